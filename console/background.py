"""Work done away from the request, for the outbox and the background jobs alike.

Each kind of background work (``console.notify.runtime.OUTBOX``,
``console.jobs.runtime.JOBS``) is declared once as a ``Work``: what one round does, how
much the tables hold that no RQ trigger covers yet, and its settings. This module runs
every kind the same way:

- in a serving app, ``Runtime`` (one per kind and app, in ``app.extensions``): a commit
  that queued work wakes it (``Work.wake_after_commit``, attached in
  ``console.session_hooks``); with ``REDIS_URL`` set it enqueues an RQ trigger,
  otherwise, where the settings say so, a daemon thread of the web process runs the
  rounds, started by the first request a process serves and polling meanwhile;
- in ``flask --app console outbox worker`` and ``jobs worker`` (``run_worker``): an RQ
  worker on the kind's queue when ``REDIS_URL`` is set, surviving Redis outages and
  sweeping the tables for work whose trigger was lost; else a loop polling the tables.

An RQ trigger is not the work itself: it runs one round, which claims whatever is due in
the database. A lost trigger delays work and a duplicate one finds nothing to do, so
the tables stay the source of truth and every host's workers can share one queue.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from sqlalchemy.orm import Session, SessionTransaction

from console.database import db

log = logging.getLogger(__name__)

REDIS_EXTENSION = "console_redis"


class Round(NamedTuple):
    """What one round of background work did."""

    summary: str | None
    """A line for the worker's output; None when the round found nothing to do."""
    full: bool = False
    """A full batch: more may be waiting, so the next round starts at once."""


@dataclass(frozen=True)
class Work:
    """One kind of background work and how each way of running it finds and does it."""

    name: str
    """Short name, in logs and thread names (``outbox``, ``jobs``)."""
    extension: str
    """The key of the kind's ``Runtime`` in ``app.extensions``."""
    thread_name: str
    settings: str
    """Prefix of the kind's settings: ``<prefix>_IN_PROCESS``, ``_POLL_SECONDS``, ``_RQ_QUEUE``."""
    committed_flag: str
    """The ``session.info`` key a service sets when its transaction queued this work."""
    task: str
    """The RQ trigger, by import path: the web app never imports the worker's code."""
    task_timeout: int
    """RQ's time limit for one trigger, in seconds (-1: none)."""
    do_round: Callable[[Flask, threading.Event], Round]
    """One round, inside an app context; ``stop`` set means finish soon."""
    backlog: Callable[[], int]
    """How many triggers the tables ask for now, inside an app context (may tidy up
    first: the jobs give up stale ones)."""
    polling_banner: str
    """What the worker says when it polls the tables (``{poll}``: seconds)."""
    drained: Callable[[], bool] = lambda: True
    """Whether a ``--burst`` polling worker may stop after a round."""
    stop_timeout: float = 10

    def setting(self, app: Flask, name: str) -> Any:
        return app.config[f"{self.settings}_{name}"]

    def poll_seconds(self, app: Flask) -> int:
        return self.setting(app, "POLL_SECONDS")

    # --- after commit: attached to every session in console.session_hooks -------------

    def wake_after_commit(self, session: Session) -> None:
        """A commit that queued this work wakes the runtime of the app it ran in."""
        if not session.info.pop(self.committed_flag, False) or not has_app_context():
            return
        runtime = current_app.extensions.get(self.extension)
        if runtime is not None:
            runtime.committed()

    def forget_after_rollback(self, session: Session, _previous: SessionTransaction) -> None:
        """A rolled-back transaction queued nothing: there is nothing to wake up for."""
        session.info.pop(self.committed_flag, None)

    def init_app(self, app: Flask) -> None:
        """Attach this kind's runtime to ``app``; start its thread where it belongs."""
        runtime = Runtime(app, self)
        app.extensions[self.extension] = runtime
        app.before_request(runtime.ensure_thread)


# --- in a serving app ------------------------------------------------------------------


class Runtime:
    """Per-app state of one kind of work: the optional in-process thread, the RQ queue."""

    def __init__(self, app: Flask, work: Work) -> None:
        self.app = app
        self.work = work
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self.rq_queue: Queue | None = None

    def committed(self) -> None:
        """A transaction that queued work committed: get it done soon."""
        if self.app.config.get("REDIS_URL"):
            enqueue(self.app, self.work)
        self.wake.set()

    def ensure_thread(self) -> None:
        """Start the thread in this process if it belongs here and is not running.

        Called on each request rather than in ``create_app``: CLI commands and
        ``alembic`` build the app too and must not run work, and a thread started
        before gunicorn forks its workers would not survive into them. Whether it
        belongs is decided once in ``config.py`` (``<prefix>_IN_PROCESS``).
        """
        if self._running():
            return
        if self.work.setting(self.app, "IN_PROCESS"):
            self.start_thread()

    def start_thread(self) -> None:
        """Start the daemon thread running rounds (once per process)."""
        if self._running():
            return
        self.pid = os.getpid()
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, name=self.work.thread_name, daemon=True)
        self.thread.start()

    def stop_thread(self, timeout: float | None = None) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(self.work.stop_timeout if timeout is None else timeout)
            self.thread = None

    def _running(self) -> bool:
        return self.pid == os.getpid() and self.thread is not None and self.thread.is_alive()

    def _run(self) -> None:
        poll = self.work.poll_seconds(self.app)
        while not self.stop.is_set():
            self.wake.clear()
            try:
                with self.app.app_context():
                    if self.work.do_round(self.app, self.stop).full:
                        continue
            except Exception:  # keep the thread alive through a database outage
                log.exception("%s round failed; retrying in %s s", self.work.name, poll)
            self.wake.wait(poll)


def redis_connection(app: Flask) -> Redis:
    """The app's connection pool to ``REDIS_URL``, shared by its RQ queues.

    Short timeouts: an unreachable Redis must not hold up the request that committed;
    what was queued is safe in the database either way (outbox rows, job rows).
    """
    connection = app.extensions.get(REDIS_EXTENSION)
    if connection is None:
        connection = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions[REDIS_EXTENSION] = connection
    return connection


def queue(app: Flask, work: Work) -> Queue:
    """The RQ queue of ``work``'s triggers on ``REDIS_URL``."""
    runtime: Runtime = app.extensions[work.extension]
    if runtime.rq_queue is None:
        runtime.rq_queue = Queue(work.setting(app, "RQ_QUEUE"), connection=redis_connection(app))
    return runtime.rq_queue


def enqueue(app: Flask, work: Work) -> bool:
    """Queue one trigger of ``work``; False (logged) when Redis cannot be reached.

    The work is committed in the database already: a Redis outage delays it and loses
    nothing (the worker's sweep queues a trigger for it once Redis answers).
    """
    try:
        queue(app, work).enqueue(
            work.task, job_timeout=work.task_timeout, result_ttl=0, failure_ttl=86400
        )
    except (RedisError, OSError) as exc:
        log.warning(
            "could not queue a %s trigger on Redis (%s); the work waits in the database",
            work.name,
            exc,
        )
        return False
    return True


def sweep(app: Flask, work: Work) -> int:
    """Queue a trigger for the work the tables hold beyond the triggers already waiting.

    This is what recovers from a Redis outage at commit time (the trigger was never
    queued), runs the outbox's retries once their backoff has passed, and gives up
    jobs whose worker died. How many were queued.
    """
    with app.app_context():
        wanted = work.backlog()
    if not wanted:  # nothing to ask Redis about
        return 0
    missing = wanted - queue(app, work).count
    return sum(1 for _ in range(max(missing, 0)) if enqueue(app, work))


# --- the worker commands ---------------------------------------------------------------


def run_worker(
    app: Flask, work: Work, *, burst: bool = False, echo: Callable[[str], None] = print
) -> None:
    """Do ``work`` until stopped (SIGTERM/SIGINT), or until none is left with ``burst``.

    An RQ worker on the kind's queue when ``REDIS_URL`` is set, else a loop polling the
    tables every ``<prefix>_POLL_SECONDS``.
    """
    if app.config.get("REDIS_URL"):
        serve_rq_queue(app, work, burst=burst, echo=echo)
    else:
        run_polling_loop(app, work, burst=burst, echo=echo)


def run_polling_loop(app: Flask, work: Work, *, burst: bool, echo: Callable[[str], None]) -> None:
    """Run rounds in this process, waiting ``<prefix>_POLL_SECONDS`` after a quiet one."""
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    poll = work.poll_seconds(app)
    echo(work.polling_banner.format(poll=poll))
    try:
        while not stop.is_set():
            with app.app_context():
                done = work.do_round(app, stop)
                if done.summary:
                    echo(done.summary)
                if burst and work.drained():
                    return
            if not done.full:
                stop.wait(poll)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


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


def serve_rq_queue(app: Flask, work: Work, *, burst: bool, echo: Callable[[str], None]) -> None:
    """Run an RQ worker on ``work``'s queue in this process until stopped, surviving
    Redis outages.

    The sweep (``sweep``) runs first and then every ``<prefix>_POLL_SECONDS`` on a
    thread: it queues the triggers for the work the tables hold but Redis lost.
    """
    q = queue(app, work)
    poll = work.poll_seconds(app)
    stop = threading.Event()

    def sweeper() -> None:
        while not stop.wait(poll):
            try:
                sweep(app, work)
            except Exception as exc:  # Redis or the database away: try next round
                app.logger.warning("%s sweep failed: %s", work.name, exc)

    echo(f"RQ worker on queue {q.name!r} at {app.config['REDIS_URL']}.")
    try:
        sweep(app, work)
    except (RedisError, OSError) as exc:
        if burst:
            raise
        log.warning("%s sweep failed: %s", work.name, exc)
    if not burst:
        threading.Thread(target=sweeper, name=f"{work.name}-sweeper", daemon=True).start()
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
                # over) once Redis answers again. A trigger cut short loses nothing:
                # its work is still in the database and the sweep re-queues it.
                if worker is not None:
                    _drop_subscription(worker)
                db.session.remove()
                if not _wait_for_redis(app, q.connection, stop, in_main_thread, poll, work.name):
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
        if worker.pubsub is not None:
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
