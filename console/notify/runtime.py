"""How delivery is triggered in a running app: after-commit wake-up, thread, RQ jobs.

The in-process thread (embedded default) starts with the first request a process
serves and then polls every ``OUTBOX_POLL_SECONDS``; a commit that queued a message
wakes it at once (``wake_after_commit``, attached with the other session hooks in
``console.session_hooks``).
"""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Session, SessionTransaction

from console.notify.dispatcher import deliver_due
from console.services.notifications import OUTBOX_DIRTY

log = logging.getLogger(__name__)

EXTENSION = "console_outbox"
JOB = "console.notify.jobs.deliver_due_job"
"""The RQ job, by import path: the web app never imports the worker's code."""


class OutboxRuntime:
    """Per-app delivery state: the optional in-process thread and the RQ queue."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self.rq_queue = None
        self.redis: Redis | None = None

    # --- after commit -------------------------------------------------------------

    def message_committed(self) -> None:
        """A transaction that queued e-mail committed: get it delivered soon."""
        if self.app.config.get("REDIS_URL"):
            enqueue_job(self.app)
        self.wake.set()

    # --- in-process thread --------------------------------------------------------

    def ensure_thread(self) -> None:
        """Start the thread in this process if it belongs here and is not running.

        Called on each request rather than in ``create_app``: CLI commands and
        ``alembic`` build the app too and must not deliver, and a thread started
        before gunicorn forks its workers would not survive into them.
        """
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        # Decided once in config.py (``delivers_in_process``) from the relay, Redis
        # and the environment.
        if self.app.config["OUTBOX_IN_PROCESS"]:
            self.start_thread()

    def start_thread(self) -> None:
        """Start the daemon thread that delivers due messages (once per process)."""
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        self.pid = os.getpid()
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
        self.thread.start()

    def stop_thread(self, timeout: float = 10) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def _run(self) -> None:
        poll = self.app.config["OUTBOX_POLL_SECONDS"]
        while not self.stop.is_set():
            self.wake.clear()
            try:
                with self.app.app_context():
                    report = deliver_due()
                # A full batch means more may be waiting: go again at once.
                if report.attempted >= self.app.config["OUTBOX_BATCH_SIZE"]:
                    continue
            except Exception:  # keep the thread alive through a database outage
                log.exception("outbox dispatcher round failed; retrying in %s s", poll)
            self.wake.wait(poll)


def enqueue_job(app: Flask) -> bool:
    """Ask RQ for a delivery round; False (logged) when Redis cannot be reached.

    The messages are already committed in the outbox, so a Redis outage delays them
    and loses nothing: the next job or the worker's sweep delivers them.
    """
    try:
        queue(app).enqueue(JOB, job_timeout=300, result_ttl=0, failure_ttl=86400)
    except (RedisError, OSError) as exc:
        log.warning(
            "could not queue outbox delivery on Redis (%s); messages wait in the outbox", exc
        )
        return False
    return True


def queue(app: Flask):
    """The RQ queue of delivery jobs on ``REDIS_URL`` (one connection pool per app)."""
    runtime = app.extensions[EXTENSION]
    if runtime.rq_queue is None:
        runtime.rq_queue = Queue(app.config["OUTBOX_RQ_QUEUE"], connection=redis_connection(app))
    return runtime.rq_queue


def redis_connection(app: Flask) -> Redis:
    """The app's connection pool to ``REDIS_URL``, shared by its RQ queues.

    Short timeouts: an unreachable Redis must not hold up the request that committed;
    what was queued is safe in the database either way (outbox rows, job rows).
    """
    runtime = app.extensions[EXTENSION]
    if runtime.redis is None:
        runtime.redis = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
    return runtime.redis


def wake_after_commit(session: Session) -> None:
    """A commit that queued e-mail wakes the delivery of the app it ran in.

    Attached to every session, of every app: each commit finds its own app's runtime
    through the app context it runs in.
    """
    if not session.info.pop(OUTBOX_DIRTY, False) or not has_app_context():
        return
    runtime = current_app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.message_committed()


def forget_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    """A rolled-back transaction queued nothing: there is nothing to wake up for."""
    session.info.pop(OUTBOX_DIRTY, None)


def init_app(app: Flask) -> None:
    """Attach the delivery runtime to ``app``; start the thread where it belongs."""
    runtime = OutboxRuntime(app)
    app.extensions[EXTENSION] = runtime
    app.before_request(runtime.ensure_thread)
