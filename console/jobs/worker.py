"""The long-running process behind ``flask --app console jobs worker``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from flask import Flask

from console.database import db
from console.jobs.runner import run_pending
from console.jobs.runtime import queue, sweep
from console.notify.worker import serve_rq_queue
from console.services import jobs as jobs_service


def run_worker(app: Flask, *, burst: bool = False, echo: Callable[[str], None] = print) -> None:
    """Run jobs until stopped (SIGTERM/SIGINT), or until none is queued with ``burst``.

    An RQ worker on ``JOBS_RQ_QUEUE`` when ``REDIS_URL`` is set (with the outbox
    worker's survival of Redis outages), else a loop polling the job table.
    """
    if app.config.get("REDIS_URL"):
        serve_rq_queue(
            app,
            queue(app),
            sweep,
            poll_seconds=app.config["JOBS_POLL_SECONDS"],
            burst=burst,
            echo=echo,
            name="jobs",
        )
    else:
        _run_polling_loop(app, burst=burst, echo=echo)


def _run_polling_loop(app: Flask, *, burst: bool, echo: Callable[[str], None]) -> None:
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    echo(f"Running queued jobs, looking every {app.config['JOBS_POLL_SECONDS']} s (Ctrl+C stops).")
    try:
        while not stop.is_set():
            with app.app_context():
                jobs_service.fail_stale(db.session())
                ran = run_pending(app, stop=stop)
                if ran:
                    echo(f"ran {ran} job(s)")
            if burst:
                return
            stop.wait(app.config["JOBS_POLL_SECONDS"])
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
