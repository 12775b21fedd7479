"""How queued jobs get run in a serving app: a thread of the web process, or RQ.

Jobs are one kind of background work (``console.background``), run the way the outbox
is delivered:

- with ``REDIS_URL`` set, each commit that queued a job enqueues an RQ trigger
  (``console.jobs.tasks.run_next_job``) that ``flask --app console jobs worker``
  processes, on any host; a trigger claims the oldest queued job, so a lost or
  duplicate trigger loses or doubles nothing (the worker's sweep re-queues triggers
  for jobs still queued);
- without Redis (the embedded default), a thread of each web process runs them,
  started by the first request it serves, woken right after a commit that queued a
  job and polling every ``JOBS_POLL_SECONDS`` otherwise.

Each round, and each sweep, first gives up the jobs whose worker stopped answering
(``JOBS_STALE_AFTER``).
"""

from __future__ import annotations

import threading

from flask import Flask
from rq import Queue

from console import background
from console.database import db
from console.jobs import exports  # noqa: F401 - registers the export kind
from console.jobs.runner import run_pending
from console.services import jobs as jobs_service


def jobs_round(app: Flask, stop: threading.Event) -> background.Round:
    """Give up stale jobs, then run the queued ones until none is left."""
    jobs_service.fail_stale(db.session())
    ran = run_pending(app, stop=stop)
    return background.Round(f"ran {ran} job(s)" if ran else None)


def jobs_backlog() -> int:
    """Give up stale jobs; one trigger is wanted per job still queued."""
    jobs_service.fail_stale(db.session())
    return jobs_service.count_by_state(db.session()).get("queued", 0)


JOBS = background.Work(
    name="jobs",
    extension="console_jobs",
    thread_name="jobs-runner",
    settings="JOBS",
    committed_flag=jobs_service.JOBS_QUEUED,
    task="console.jobs.tasks.run_next_job",
    # No RQ time limit: a long export reports progress, and a runner that dies is
    # found by the stale-job sweep (JOBS_STALE_AFTER), not by RQ.
    task_timeout=-1,
    do_round=jobs_round,
    backlog=jobs_backlog,
    polling_banner="Running queued jobs, looking every {poll} s (Ctrl+C stops).",
    stop_timeout=30,
)


def queue(app: Flask) -> Queue:
    """The RQ queue of job triggers on ``REDIS_URL``."""
    return background.queue(app, JOBS)


def init_app(app: Flask) -> None:
    """Attach the job runtime to ``app``; start the thread where it belongs."""
    JOBS.init_app(app)
