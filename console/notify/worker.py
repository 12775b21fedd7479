"""The long-running delivery process behind ``flask --app console outbox worker``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from console import background
from console.notify.runtime import OUTBOX


def run_worker(app: Flask, *, burst: bool = False, echo: Callable[[str], None] = print) -> None:
    """Deliver until stopped (SIGTERM/SIGINT), or until nothing is due with ``burst``.

    An RQ worker on ``OUTBOX_RQ_QUEUE`` when ``REDIS_URL`` is set (surviving Redis
    outages, sweeping for due messages no job covers), else a loop polling the outbox.
    """
    background.run_worker(app, OUTBOX, burst=burst, echo=echo)
