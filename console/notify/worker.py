"""The long-running delivery process behind ``flask --app console outbox worker``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from flask import Flask
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from console.database import db
from console.notify.dispatcher import count_due, deliver_due
from console.notify.runtime import enqueue_job, queue

log = logging.getLogger(__name__)


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


class _ConsoleWorker(SimpleWorker):
    """RQ's in-process worker, remembering whether it was asked to stop.

    ``Worker.work()`` returns both when it is told to stop (SIGTERM/SIGINT) and when it
    meets an error it does not handle, such as Redis going away while a job runs: RQ
    retries only the wait for the next job, and a failed heartbeat or result write
    ends the loop ("found an unhandled exception, quitting..."), after which its own
    clean-up raises the same connection error. The flag tells the two apart.
    """

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()


def _run_rq_worker(app: Flask, *, burst: bool, echo: Callable[[str], None]) -> None:
    serve_rq_queue(
        app,
        queue(app),
        sweep,
        poll_seconds=app.config["OUTBOX_POLL_SECONDS"],
        burst=burst,
        echo=echo,
        name="outbox",
    )


def serve_rq_queue(
    app: Flask,
    q: Queue,
    sweep_queue: Callable[[Flask], object],
    *,
    poll_seconds: int,
    burst: bool,
    echo: Callable[[str], None],
    name: str,
) -> None:
    """Run an RQ worker on ``q`` in this process until stopped, surviving Redis outages.

    ``sweep_queue(app)`` runs first and then every ``poll_seconds`` on a thread: it
    queues the work the table holds but Redis lost (the outbox's due messages, the
    background jobs still queued). Shared by ``outbox worker`` and ``jobs worker``.
    """
    stop = threading.Event()

    def sweeper() -> None:
        while not stop.wait(poll_seconds):
            try:
                sweep_queue(app)
            except Exception as exc:  # Redis or the database away: try next round
                app.logger.warning("%s sweep failed: %s", name, exc)

    echo(f"RQ worker on queue {q.name!r} at {app.config['REDIS_URL']}.")
    try:
        sweep_queue(app)
    except (RedisError, OSError) as exc:
        if burst:
            raise
        log.warning("%s sweep failed: %s", name, exc)
    if not burst:
        threading.Thread(target=sweeper, name=f"{name}-sweeper", daemon=True).start()
    # RQ installs its own SIGINT/SIGTERM handlers and leaves them in place; give the
    # process its own back when the worker ends (a burst run inside another program).
    in_main_thread = threading.current_thread() is threading.main_thread()
    saved = (
        {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        if in_main_thread
        else {}
    )
    try:
        # SimpleWorker runs jobs in this process, inside this app context (a forking
        # worker would share the database pool with its children).
        with app.app_context():
            while True:
                worker = None
                try:
                    worker = _ConsoleWorker([q], connection=q.connection)
                    worker.work(burst=burst)
                except (RedisError, OSError) as exc:
                    if burst:
                        raise
                    log.warning("the RQ worker lost Redis: %s", exc)
                if burst or (worker is not None and worker.stop_requested):
                    return
                # The worker quit on an error: start a fresh one (RQ's own loop is
                # over) once Redis answers again. A job cut short loses nothing:
                # its work is still in the database and the sweep re-queues it.
                if worker is not None:
                    _drop_subscription(worker)
                db.session.remove()
                if not _wait_for_redis(app, q.connection, stop, in_main_thread, poll_seconds, name):
                    return
                log.warning("Redis answers again; the RQ worker starts anew")
    except StopRequested:  # RQ's signal handler, called between two workers
        pass
    finally:
        stop.set()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _drop_subscription(worker: SimpleWorker) -> None:
    """Stop the pub/sub thread of a worker whose clean-up failed without Redis."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None and thread.is_alive():
        thread.stop()
        thread.join(timeout=1)
        worker.pubsub.close()


def _wait_for_redis(
    app: Flask,
    connection,
    stop: threading.Event,
    handle_signals: bool,
    poll_seconds: int,
    name: str,
) -> bool:
    """Ping Redis every ``poll_seconds`` until it answers; False when told to stop.

    SIGTERM/SIGINT meanwhile stop the wait (RQ's handlers, still installed, would
    ask the dead connection for the worker's state).
    """
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    log.warning(
        "%s worker waiting for Redis at %s (checking every %s s)",
        name,
        app.config["REDIS_URL"],
        poll_seconds,
    )
    while not stop.is_set():
        try:
            connection.ping()
            return True
        except (RedisError, OSError):
            stop.wait(poll_seconds)
    return False
