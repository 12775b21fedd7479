"""Background jobs: long work (exports, imports) with an owner, a state and a result.

The row is the job's source of truth, whatever runs it (a thread of the web process or
an RQ worker on another host): a runner claims a queued job with a conditional
``UPDATE`` carrying its own token, and every later write of that runner (progress, the
result, the error) applies only while the row is still running under that token. A
person's cancel, or the stale-job sweep after a worker died, moves the row out of
``running``; the runner's next write then matches nothing and it stops, throwing its
half-written file away.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString, lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import label_of, utcnow

if TYPE_CHECKING:
    from console.models.staff import User


class JobState(enum.StrEnum):
    QUEUED = "queued"
    """Waiting for a runner."""
    RUNNING = "running"
    """Claimed by one runner, which reports progress (``heartbeat_at``)."""
    DONE = "done"
    FAILED = "failed"
    """Ended with an error (``error``), or its worker stopped answering."""
    CANCELLED = "cancelled"

    @property
    def label(self) -> LazyString:
        return STATE_LABELS[self]


STATE_LABELS: dict[JobState, LazyString] = {
    JobState.QUEUED: lazy_pgettext("job state", "Queued"),
    JobState.RUNNING: lazy_pgettext("job state", "Running"),
    JobState.DONE: lazy_pgettext("job state", "Done"),
    JobState.FAILED: lazy_pgettext("job state", "Failed"),
    JobState.CANCELLED: lazy_pgettext("job state", "Cancelled"),
}
"""How each state of a job reads on pages, in the reader's language."""

FINISHED_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
_STATE_VALUES = ", ".join(f"'{s.value}'" for s in JobState)


class Job(Model):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATE_VALUES})", name="state_known"),
        CheckConstraint("progress_done >= 0", name="progress_done_not_negative"),
        # A person's jobs page, newest first.
        Index("ix_job_owner_id_created_at", "owner_id", "created_at"),
        # Runners look for queued jobs and for running ones that stopped answering.
        Index("ix_job_state_heartbeat_at", "state", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    """What the job does (``console.jobs.kinds``): ``export``, later ``import``."""
    title: Mapped[str] = mapped_column(String(200))
    """What the person reads in the jobs list: "Orders export (CSV)"."""
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    state: Mapped[str] = mapped_column(
        String(16), default=JobState.QUEUED.value, server_default=JobState.QUEUED.value
    )
    progress_done: Mapped[int] = mapped_column(default=0, server_default="0")
    progress_total: Mapped[int | None] = mapped_column()
    """Units of work in all (rows to export); None until the job has counted them."""

    result_path: Mapped[str | None] = mapped_column(String(500))
    """The result file, relative to ``JOBS_RESULT_DIR``; None once pruned."""
    result_name: Mapped[str | None] = mapped_column(String(200))
    """The file name the download offers: ``orders-2026-12-02.csv``."""
    result_size: Mapped[int | None] = mapped_column()
    result_removed_at: Mapped[dt.datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)

    notify_when_done: Mapped[bool] = mapped_column(default=False, server_default=false())
    """E-mail the owner (through the outbox) when the job finishes."""

    claim_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column()
    """The runner's last sign of life; a running job silent for ``JOBS_STALE_AFTER``
    seconds is marked failed."""
    finished_at: Mapped[dt.datetime | None] = mapped_column()

    owner: Mapped[User] = relationship()

    @property
    def state_label(self) -> str:
        """The state in the reader's language (``STATE_LABELS``)."""
        return label_of(JobState, self.state)

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def percent(self) -> int | None:
        """Progress in whole percent, when the total is known."""
        if self.state == JobState.DONE:
            return 100
        if not self.progress_total:
            return None
        return min(100, self.progress_done * 100 // self.progress_total)

    def __str__(self) -> str:
        return f"{self.title} (#{self.id})"
