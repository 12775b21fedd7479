"""Running one job: claim it, hand its kind a ``JobContext``, record how it ended.

Whatever runs jobs (the in-process thread, an RQ worker, ``jobs worker`` without
Redis, a test) calls ``run_next`` or ``run_pending`` inside an app context.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext
from sqlalchemy.orm import Session

from console.database import db
from console.i18n import writing_for
from console.jobs.kinds import kind_named
from console.models import Job, User
from console.services import jobs as jobs_service
from console.services.errors import DomainError

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The job stopped being this runner's (cancelled, or given up as stale): stop now."""


@dataclass(frozen=True)
class JobOutcome:
    """A finished job's result: the file (written at ``context.partial_path``) and rows."""

    path: Path
    name: str
    """The file name a download offers."""
    rows: int


class JobContext:
    """What a running job sees: its parameters and owner, progress, its result file."""

    REPORT_SECONDS = 1.0
    """Least time between two progress reports written to the database."""

    def __init__(self, app: Flask, job: Job, token: str) -> None:
        self.app = app
        self.job_id: int = job.id
        self.token = token
        self.parameters: dict[str, Any] = dict(job.parameters or {})
        self.owner: User = job.owner
        self.created_at = job.created_at
        self.total: int | None = None
        self.reported_at: float | None = None

    @property
    def session(self) -> Session:
        """The database session of the runner (this app context's)."""
        return db.session()

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Report ``done`` units of ``total``; raises ``JobCancelled`` once the job is
        no longer this runner's. Call it often (every batch): it is also the sign of life
        that keeps the job from being given up as stale.

        Written to the database at most every ``REPORT_SECONDS`` (each report is a
        committed write; one per batch would slow a long export down), unless
        ``force``d or when the total changes. On SQLite, while the job's own session
        holds the write lock, reports are skipped (see below) and resume after it.
        """
        now = time.monotonic()
        if (
            not force
            and total == self.total
            and self.reported_at is not None
            and now - self.reported_at < self.REPORT_SECONDS
        ):
            return
        if total is not None:
            self.total = total
        # Its own session and connection: the report commits at once, whatever
        # transaction the job's session has open (an import writes its rows in one
        # transaction, and its progress must show while that transaction runs).
        if _holds_sqlite_write_lock(self.session):
            # SQLite admits one writer at a time, and the job's own transaction is it:
            # a report would wait for that transaction, then fail. Until it ends no
            # report is written; nor can anyone else write (a cancellation included).
            return
        with Session(db.engine) as own:
            if not jobs_service.heartbeat(own, self.job_id, self.token, done, total):
                raise JobCancelled(self.job_id)
        self.reported_at = now

    def partial_path(self, extension: str) -> Path:
        """Where to write the result until it is complete (renamed when the job is done)."""
        return jobs_service.partial_file(self.job_id, self.token, extension)


def _holds_sqlite_write_lock(session: Session) -> bool:
    """Whether ``session`` has written in a transaction still open on SQLite (which
    then holds the database's one write lock until it commits or rolls back)."""
    if db.engine.dialect.name != "sqlite" or not session.in_transaction():
        return False
    # The sqlite3 driver begins a transaction at the first write, not at reads.
    return bool(getattr(session.connection().connection.dbapi_connection, "in_transaction", False))


def run_next(app: Flask, job_id: int | None = None) -> int | None:
    """Claim and run the oldest queued job (or ``job_id``); its id, or None if none."""
    claimed = jobs_service.claim(db.session(), job_id)
    if claimed is None:
        return None
    job_id, token = claimed
    _run_claimed(app, job_id, token)
    return job_id


def run_pending(app: Flask, *, stop: Any = None) -> int:
    """Run queued jobs one after another until none is left (or ``stop`` is set)."""
    ran = 0
    while stop is None or not stop.is_set():
        if run_next(app) is None:
            break
        ran += 1
    return ran


def _run_claimed(app: Flask, job_id: int, token: str) -> None:
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None  # claimed a moment ago; jobs are never deleted
    # What the job writes for its owner (an import's row errors, a refusal, its error)
    # reads in the owner's language and zone, whichever runner or host runs it.
    with writing_for(job.owner):
        _run(app, job, job_id, token)


def _run(app: Flask, job: Job, job_id: int, token: str) -> None:
    kind = kind_named(job.kind)
    context = JobContext(app, job, token)
    try:
        if kind is None:
            raise DomainError(
                gettext("This console cannot run jobs of kind %(kind)r.", kind=job.kind)
            )
        refusal = kind.refusal(job.owner, context.parameters)
        if refusal:
            raise DomainError(refusal)
        outcome = kind.run(context)
    except JobCancelled:
        db.session.rollback()
        log.info("job %s stopped: it was cancelled or given up", job_id)
        jobs_service.remove_partial_files(job_id)
        return
    except DomainError as exc:
        db.session.rollback()
        _give_up(job_id, token, exc.message)
        return
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s failed", job_id)
        _give_up(
            job_id, token, gettext("The job stopped on an unexpected error: %(error)s", error=exc)
        )
        return
    if not jobs_service.complete(
        db.session(),
        job_id,
        token,
        partial=outcome.path,
        name=outcome.name,
        rows=outcome.rows,
    ):
        log.info("job %s was cancelled as it finished; its result was discarded", job_id)
    else:
        current_app.logger.info("job %s done: %s rows", job_id, outcome.rows)


def _give_up(job_id: int, token: str, message: str) -> None:
    jobs_service.remove_partial_files(job_id)
    jobs_service.fail(db.session(), job_id, token, message)
