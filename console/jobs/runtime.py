"""How queued jobs get run in a serving app: a thread of the web process, or RQ.

The same shape as the outbox's delivery (``console.notify.runtime``), sharing its
Redis connection:

- with ``REDIS_URL`` set, each commit that queued a job enqueues an RQ trigger
  (``console.jobs.tasks.run_next_job``) that ``flask --app console jobs worker``
  processes, on any host; a trigger claims the oldest queued job, so a lost or
  duplicate trigger loses or doubles nothing (the worker's sweep re-queues triggers
  for jobs still queued);
- without Redis (the embedded default), a thread of each web process runs them,
  started by the first request it serves, woken right after a commit that queued a
  job and polling every ``JOBS_POLL_SECONDS`` otherwise (it also gives up stale jobs).
"""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask, current_app, has_app_context
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.orm import Session, SessionTransaction

from console.database import db
from console.jobs import exports  # noqa: F401 - registers the export kind
from console.jobs.runner import run_pending
from console.notify.runtime import redis_connection
from console.services import jobs as jobs_service

log = logging.getLogger(__name__)

EXTENSION = "console_jobs"
TASK = "console.jobs.tasks.run_next_job"
"""The RQ job, by import path: the web app never imports the worker's code."""


class JobsRuntime:
    """Per-app job running: the optional in-process thread and the RQ queue."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self.rq_queue: Queue | None = None

    def job_committed(self) -> None:
        """A transaction that queued a job committed: get it run soon."""
        if self.app.config.get("REDIS_URL"):
            enqueue_trigger(self.app)
        self.wake.set()

    def ensure_thread(self) -> None:
        """Start the runner thread in this process if it belongs here and is not running.

        Called on each request rather than in ``create_app``, for the outbox's reasons:
        CLI commands build the app too, and a thread started before gunicorn forks its
        workers would not survive into them.
        """
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        if self.app.config["JOBS_IN_PROCESS"]:
            self.start_thread()

    def start_thread(self) -> None:
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        self.pid = os.getpid()
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, name="jobs-runner", daemon=True)
        self.thread.start()

    def stop_thread(self, timeout: float = 30) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def _run(self) -> None:
        poll = self.app.config["JOBS_POLL_SECONDS"]
        while not self.stop.is_set():
            self.wake.clear()
            try:
                with self.app.app_context():
                    jobs_service.fail_stale(db.session())
                    run_pending(self.app, stop=self.stop)
            except Exception:  # keep the thread alive through a database outage
                log.exception("jobs runner round failed; retrying in %s s", poll)
            self.wake.wait(poll)


def queue(app: Flask) -> Queue:
    """The RQ queue of job triggers on ``REDIS_URL``."""
    runtime: JobsRuntime = app.extensions[EXTENSION]
    if runtime.rq_queue is None:
        runtime.rq_queue = Queue(app.config["JOBS_RQ_QUEUE"], connection=redis_connection(app))
    return runtime.rq_queue


def enqueue_trigger(app: Flask) -> bool:
    """Ask RQ to run the next queued job; False (logged) when Redis cannot be reached.

    The job row is committed already: a Redis outage delays it and loses nothing (the
    worker's sweep queues a trigger for it once Redis answers).
    """
    try:
        # No RQ time limit: a long export reports progress, and a runner that dies is
        # found by the stale-job sweep (JOBS_STALE_AFTER), not by RQ.
        queue(app).enqueue(TASK, job_timeout=-1, result_ttl=0, failure_ttl=86400)
    except (RedisError, OSError) as exc:
        log.warning("could not queue a job trigger on Redis (%s); the job waits in the table", exc)
        return False
    return True


def sweep(app: Flask) -> int:
    """Give up stale jobs; queue a trigger for each queued job that has none waiting."""
    with app.app_context():
        jobs_service.fail_stale(db.session())
        waiting = jobs_service.count_by_state(db.session()).get("queued", 0)
    missing = waiting - queue(app).count
    queued = 0
    for _ in range(max(missing, 0)):
        if enqueue_trigger(app):
            queued += 1
    return queued


def wake_after_commit(session: Session) -> None:
    """A commit that queued a job wakes the runner of the app it ran in."""
    if not session.info.pop(jobs_service.JOBS_QUEUED, False) or not has_app_context():
        return
    runtime = current_app.extensions.get(EXTENSION)
    if runtime is not None:
        runtime.job_committed()


def forget_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    """A rolled-back transaction queued no job."""
    session.info.pop(jobs_service.JOBS_QUEUED, None)


def init_app(app: Flask) -> None:
    """Attach the job runtime to ``app``; start the thread where it belongs."""
    runtime = JobsRuntime(app)
    app.extensions[EXTENSION] = runtime
    app.before_request(runtime.ensure_thread)
