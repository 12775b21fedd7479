"""The long-running process behind ``flask --app console jobs worker``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from console import background
from console.jobs.runtime import JOBS


def run_worker(app: Flask, *, burst: bool = False, echo: Callable[[str], None] = print) -> None:
    """Run jobs until stopped (SIGTERM/SIGINT), or until none is queued with ``burst``.

    An RQ worker on ``JOBS_RQ_QUEUE`` when ``REDIS_URL`` is set (with the outbox
    worker's survival of Redis outages), else a loop polling the job table.
    """
    background.run_worker(app, JOBS, burst=burst, echo=echo)
