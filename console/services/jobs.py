"""Background jobs: who may start, see and cancel them, and how a runner moves them on.

Rules for people:

- anyone signed in sees and cancels their own jobs; holders of ``staff.manage`` see
  and cancel everyone's; anyone else asking for another person's job is refused
  (``JobForbidden``), and an id that names no job is ``JobNotFound``;
- a job of a kind is started only when the kind's ``refusal`` has no objection;
- a finished job (done, failed, cancelled) cannot be cancelled.

Rules for runners (``console.jobs.runner``), each one conditional ``UPDATE``:

- ``claim`` moves one queued job to running under a fresh token;
- ``heartbeat``, ``complete`` and ``fail`` write only while the row is running under
  that token; False tells the runner the job was cancelled or given up on, so it must
  stop and throw its partial file away;
- ``fail_stale`` marks failed the running jobs whose runner has not reported for
  ``JOBS_STALE_AFTER`` seconds (it died), and removes what they had half-written.

The result file lives under ``JOBS_RESULT_DIR``; it is written as ``<name>.partial``
and renamed only once complete, so a download never meets half a file.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from console.database import rowcount
from console.i18n import writing_for
from console.jobs.kinds import kind_named
from console.models import Job, JobState, User
from console.models.base import utcnow, word_of
from console.permissions import STAFF_MANAGE
from console.security.links import external_url
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.notifications import enqueue_email

log = logging.getLogger(__name__)

JOBS_QUEUED = "console_jobs_queued"
"""``Session.info`` key set when a job was queued; its runner is woken after commit."""

PARTIAL_SUFFIX = ".partial"
RESULT_FILE = re.compile(r"^(\d+)-[0-9a-f]{8,64}\.[a-z0-9.]+$")
"""Names of the files this service writes: ``<job id>-<token>.<ext>[.partial]``."""

MAX_ERROR_LENGTH = 2000

STALE_MESSAGE = (
    "The worker running this job stopped answering (it was stopped or crashed), so the "
    "job was given up; nothing of it was kept. Start it again."
)


class JobNotFound(DomainError):
    """No job has this id."""


class JobForbidden(DomainError):
    """The job belongs to someone else and the person does not manage staff."""


# --- people ------------------------------------------------------------------------------


def sees_every_job(actor: User) -> bool:
    """Holders of ``staff.manage`` see, cancel and download everyone's jobs."""
    return bool(actor.has_permission(STAFF_MANAGE))


def start(
    session: Session,
    actor: User,
    kind: str,
    parameters: Mapping[str, Any],
    *,
    title: str,
    notify: bool = False,
    also: Callable[[Job], None] | None = None,
) -> Job:
    """Queue a job of ``kind`` for ``actor``; commits. Its runner is woken after commit.

    ``also`` is called with the job, numbered, before the commit: what must be stored
    with it or not at all (the audit event of an export).
    """
    job_kind = kind_named(kind)
    if job_kind is None:
        raise DomainError(gettext("There is no kind of job called %(kind)s.", kind=repr(kind)))
    refusal = job_kind.refusal(actor, parameters)
    if refusal:
        raise DomainError(refusal)
    job = Job(
        kind=kind,
        title=title[:200],
        owner=actor,
        parameters=dict(parameters),
        state=JobState.QUEUED.value,
        notify_when_done=notify,
    )
    try:
        session.add(job)
        session.flush()
        if also is not None:
            also(job)
        session.info[JOBS_QUEUED] = True
        session.commit()
    except Exception:
        session.rollback()
        raise
    return job


def job_for(session: Session, actor: User, job_id: Any) -> Job:
    """The job ``job_id`` if ``actor`` may see it; ``JobNotFound`` / ``JobForbidden``."""
    number = row_id(job_id)
    job = session.get(Job, number, populate_existing=True) if number is not None else None
    if job is None:
        raise JobNotFound(f"There is no job number {str(job_id)[:20]}.")
    if job.owner_id != actor.id and not sees_every_job(actor):
        raise JobForbidden("This job belongs to someone else; only its owner may open it.")
    return job


def jobs_for(
    session: Session, actor: User, *, everyone: bool = False, limit: int = 50, offset: int = 0
) -> list[Job]:
    """``actor``'s jobs, newest first; everyone's for staff managers who ask for them."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
    if not (everyone and sees_every_job(actor)):
        query = query.where(Job.owner_id == actor.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def cancel(session: Session, actor: User, job_id: Any) -> Job:
    """Cancel a queued or running job; commits.

    A running job is cancelled here, in the database: its runner sees the change at
    its next progress report, stops and removes its partial file.
    """
    job = job_for(session, actor, job_id)
    now = utcnow()
    try:
        changed = rowcount(
            session.execute(
                update(Job)
                .where(
                    Job.id == job.id,
                    Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
                )
                .values(state=JobState.CANCELLED.value, claim_token=None, finished_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    session.refresh(job)
    if not changed:
        raise DomainError(
            gettext(
                "This job has already finished (%(state)s); there is nothing to cancel.",
                state=word_of(JobState, job.state),
            )
        )
    return job


def set_notify(session: Session, actor: User, job_id: Any, notify: bool) -> Job:
    """Ask (or stop asking) to be e-mailed when the job finishes; commits."""
    job = job_for(session, actor, job_id)
    if job.is_finished:
        raise DomainError(
            gettext(
                "This job has already finished (%(state)s); no e-mail will follow.",
                state=word_of(JobState, job.state),
            )
        )
    job.notify_when_done = notify
    session.commit()
    return job


# --- runners -----------------------------------------------------------------------------


def claim(session: Session, job_id: int | None = None) -> tuple[int, str] | None:
    """Take the oldest queued job (or ``job_id`` if still queued); ``(id, token)``. Commits.

    The conditional ``UPDATE`` is what makes it safe for several runners: only one of
    them finds the row still queued.
    """
    query = select(Job.id).where(Job.state == JobState.QUEUED.value).order_by(Job.id)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    try:
        for candidate in session.scalars(query.limit(5)).all():
            token = uuid.uuid4().hex
            now = utcnow()
            claimed = rowcount(
                session.execute(
                    update(Job)
                    .where(Job.id == candidate, Job.state == JobState.QUEUED.value)
                    .values(
                        state=JobState.RUNNING.value,
                        claim_token=token,
                        started_at=now,
                        heartbeat_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if claimed:
                session.commit()
                return candidate, token
        session.commit()
    except Exception:
        session.rollback()
        raise
    return None


def _while_ours(job_id: int, token: str):
    return (Job.id == job_id, Job.claim_token == token, Job.state == JobState.RUNNING.value)


def heartbeat(session: Session, job_id: int, token: str, done: int, total: int | None) -> bool:
    """Record progress (and that the runner lives); False when the job is no longer ours."""
    values: dict[str, Any] = {"progress_done": max(done, 0), "heartbeat_at": utcnow()}
    if total is not None:
        values["progress_total"] = max(total, 0)
    try:
        changed = rowcount(
            session.execute(
                update(Job)
                .where(*_while_ours(job_id, token))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return bool(changed)


def complete(
    session: Session, job_id: int, token: str, *, partial: Path, name: str, rows: int
) -> bool:
    """Publish the finished result file and mark the job done; False when no longer ours.

    The file is renamed from its partial name first; if the job was cancelled at the
    last moment, the renamed file is removed again and nothing is published.
    """
    final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    partial.replace(final)
    try:
        changed = rowcount(
            session.execute(
                update(Job)
                .where(*_while_ours(job_id, token))
                .values(
                    state=JobState.DONE.value,
                    claim_token=None,
                    progress_done=rows,
                    progress_total=rows,
                    result_path=final.name,
                    result_name=name[:200],
                    result_size=final.stat().st_size,
                    finished_at=utcnow(),
                    heartbeat_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
        )
        if changed:
            _notify_owner(session, job_id)
        session.commit()
    except Exception:
        session.rollback()
        final.unlink(missing_ok=True)
        raise
    if not changed:
        final.unlink(missing_ok=True)
    return bool(changed)


def fail(session: Session, job_id: int, token: str, error: str) -> bool:
    """Mark the job failed with ``error`` (for its owner to read); False if no longer ours."""
    try:
        changed = rowcount(
            session.execute(
                update(Job)
                .where(*_while_ours(job_id, token))
                .values(
                    state=JobState.FAILED.value,
                    claim_token=None,
                    error=error[:MAX_ERROR_LENGTH],
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
        )
        if changed:
            _notify_owner(session, job_id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return bool(changed)


def fail_stale(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Mark failed every running job silent for ``JOBS_STALE_AFTER`` seconds; commits.

    Its runner died (killed, host lost): the job is given up, its partial file
    removed, and its owner told if they asked to be. Returns the ids given up.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=current_app.config["JOBS_STALE_AFTER"])
    stale = (
        Job.state == JobState.RUNNING.value,
        Job.heartbeat_at < cutoff,
    )
    given_up: list[int] = []
    try:
        for job_id in session.scalars(select(Job.id).where(*stale).order_by(Job.id)).all():
            changed = rowcount(
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, *stale)
                    .values(
                        state=JobState.FAILED.value,
                        claim_token=None,
                        error=STALE_MESSAGE,
                        finished_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if changed:
                _notify_owner(session, job_id)
                given_up.append(job_id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    for job_id in given_up:
        log.warning("job %s: its runner stopped answering; marked failed", job_id)
        remove_partial_files(job_id)
    return given_up


def _notify_owner(session: Session, job_id: int) -> None:
    """Queue the "your job finished" e-mail, in the transaction that finished the job."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or not job.notify_when_done:
        return
    # In the owner's language and zone, else the shop's: a runner or another person's
    # request may be the one that finishes the job.
    with writing_for(job.owner):
        enqueue_email(
            session,
            job.owner.email,
            "job_finished",
            {
                "job": job,
                "link": external_url("jobs.details", job_id=job.id),
                "console_name": current_app.config["CONSOLE_NAME"],
            },
            subject=_outcome(job)
            % {"console": current_app.config["CONSOLE_NAME"], "title": job.title},
        )


def _outcome(job: Job) -> str:
    """The finished job's e-mail subject, with ``%(console)s`` and ``%(title)s`` to fill."""
    if job.state == JobState.DONE:
        return gettext("%(console)s: %(title)s is ready")
    if job.state == JobState.FAILED:
        return gettext("%(console)s: %(title)s failed")
    return gettext("%(console)s: %(title)s was cancelled")


# --- result files ------------------------------------------------------------------------


def result_dir() -> Path:
    """``JOBS_RESULT_DIR``, created when missing."""
    path = Path(current_app.config["JOBS_RESULT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def partial_file(job_id: int, token: str, extension: str) -> Path:
    """Where a runner writes the result of ``job_id`` until it is complete."""
    return result_dir() / f"{job_id}-{token}.{extension}{PARTIAL_SUFFIX}"


def result_file(job: Job) -> Path | None:
    """The finished result file of ``job`` when it still exists."""
    if job.state != JobState.DONE or not job.result_path:
        return None
    path = result_dir() / job.result_path
    return path if path.is_file() else None


def remove_partial_files(job_id: int) -> int:
    """Remove whatever a runner of ``job_id`` left half-written; how many files."""
    removed = 0
    for path in result_dir().glob(f"{job_id}-*{PARTIAL_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


@dataclass
class PruneReport:
    """What ``prune`` did."""

    stale: list[int] = field(default_factory=list)
    """Running jobs given up because their runner died."""
    removed: list[int] = field(default_factory=list)
    """Jobs whose result file was removed."""
    orphans: int = 0
    """Files removed that belonged to no kept result (partial or unknown job)."""


def prune(session: Session, now: dt.datetime | None = None) -> PruneReport:
    """Remove result files older than ``JOBS_KEEP_DAYS`` and what dead runners left.

    The job rows stay (the history of who exported what); their result is marked
    removed. Commits.
    """
    now = now or utcnow()
    report = PruneReport(stale=fail_stale(session, now))
    cutoff = now - dt.timedelta(days=current_app.config["JOBS_KEEP_DAYS"])
    expired = session.scalars(
        select(Job).where(
            Job.result_path.is_not(None), Job.finished_at.is_not(None), Job.finished_at < cutoff
        )
    ).all()
    directory = result_dir()
    try:
        for job in expired:
            (directory / str(job.result_path)).unlink(missing_ok=True)
            job.result_path = None
            job.result_removed_at = now
            report.removed.append(job.id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    report.orphans = _remove_orphans(session, directory)
    return report


def _remove_orphans(session: Session, directory: Path) -> int:
    """Files of this service's naming that no running job writes and no job publishes."""
    names = [path.name for path in directory.iterdir() if RESULT_FILE.match(path.name)]
    if not names:
        return 0
    ids = {int(RESULT_FILE.match(name).group(1)) for name in names}  # type: ignore[union-attr]
    rows = session.execute(
        select(Job.id, Job.state, Job.result_path).where(Job.id.in_(sorted(ids)))
    ).all()
    session.commit()
    kept = {row.result_path for row in rows if row.result_path}
    running = {row.id for row in rows if row.state == JobState.RUNNING}
    removed = 0
    for name in names:
        job_id = int(RESULT_FILE.match(name).group(1))  # type: ignore[union-attr]
        if name in kept or job_id in running:
            continue
        (directory / name).unlink(missing_ok=True)
        removed += 1
    return removed


def count_by_state(session: Session) -> dict[str, int]:
    """How many jobs are in each state (for the worker's log and tests)."""
    rows: Sequence[Any] = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: count for state, count in rows}
