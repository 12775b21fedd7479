"""The long-running delivery process behind ``flask --app console outbox worker``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from flask import Flask
from rq import SimpleWorker

from console.notify.dispatcher import count_due, deliver_due
from console.notify.runtime import enqueue_job, queue


def run_worker(app: Flask, *, burst: bool = False, echo: Callable[[str], None] = print) -> None:
    """Deliver until stopped (SIGTERM/SIGINT), or until nothing is due with ``burst``."""
    if app.config.get("REDIS_URL"):
        _run_rq_worker(app, burst=burst, echo=echo)
    else:
        _run_polling_loop(app, burst=burst, echo=echo)


def _run_polling_loop(app: Flask, *, burst: bool, echo: Callable[[str], None]) -> None:
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    echo(f"Delivering the outbox every {app.config['OUTBOX_POLL_SECONDS']} s (Ctrl+C stops).")
    try:
        while not stop.is_set():
            with app.app_context():
                report = deliver_due()
                if report.attempted:
                    echo(
                        f"sent {len(report.sent)}, retry {len(report.retried)}, "
                        f"failed {len(report.failed)}"
                    )
                if burst and not count_due():
                    return
            if report.attempted < app.config["OUTBOX_BATCH_SIZE"]:
                stop.wait(app.config["OUTBOX_POLL_SECONDS"])
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def sweep(app: Flask) -> bool:
    """Queue a delivery job when messages are due but no job is waiting.

    This is what recovers from a Redis outage at commit time (the job was never
    queued) and what runs retries once their backoff has passed.
    """
    with app.app_context():
        if not count_due():
            return False
    if queue(app).count:
        return False
    return enqueue_job(app)


def _run_rq_worker(app: Flask, *, burst: bool, echo: Callable[[str], None]) -> None:
    q = queue(app)
    stop = threading.Event()

    def sweeper() -> None:
        while not stop.wait(app.config["OUTBOX_POLL_SECONDS"]):
            try:
                sweep(app)
            except Exception as exc:  # Redis or the database away: try next round
                app.logger.warning("outbox sweep failed: %s", exc)

    echo(f"RQ worker on queue {q.name!r} at {app.config['REDIS_URL']}.")
    sweep(app)
    if not burst:
        threading.Thread(target=sweeper, name="outbox-sweeper", daemon=True).start()
    # RQ installs its own SIGINT/SIGTERM handlers and leaves them in place; give the
    # process its own back when the worker ends (a burst run inside another program).
    saved = (
        {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        # SimpleWorker runs jobs in this process, inside this app context (a forking
        # worker would share the database pool with its children).
        with app.app_context():
            SimpleWorker([q], connection=q.connection).work(burst=burst)
    finally:
        stop.set()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
