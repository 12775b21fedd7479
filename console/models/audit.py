"""The audit trail: one row per change of a record or security event, never edited.

Rows are written by ``console.audit`` in the same transaction as the change
they describe. ``actor_id`` is deliberately not a foreign key: the trail must outlive
the staff account it names, so the actor's e-mail is copied as well.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.base import utcnow

SYSTEM_ACTOR = "system"
"""``actor_email`` of changes made outside a signed-in request (CLI, seed, jobs)."""

ANONYMOUS_ACTOR = "anonymous"
"""``actor_email`` of events caused by someone not signed in (a failed sign-in)."""


class AuditEvent(Model):
    __tablename__ = "audit_event"
    __table_args__ = (
        # The History link and the stale-form message look a record's events up.
        Index("ix_audit_event_record", "record_type", "record_id", "at"),
        # An order's history includes the events of its lines.
        Index("ix_audit_event_parent", "parent_type", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    """When the change was committed, UTC."""

    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_email: Mapped[str] = mapped_column(String(255), index=True)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    """The request's id, as in its log lines and its ``X-Request-ID`` response header."""

    action: Mapped[str] = mapped_column(String(40), index=True)
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column()
    record_label: Mapped[str | None] = mapped_column(String(255))
    record_version: Mapped[int | None] = mapped_column()
    """The record's version after the change (for the stale-form message)."""

    parent_type: Mapped[str | None] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column()

    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Field-level diff ``{field: [before, after]}``; secrets appear as ``[redacted]``."""

    note: Mapped[str | None] = mapped_column(String(500))

    def __str__(self) -> str:
        return f"{self.action} {self.record_type} #{self.record_id} by {self.actor_email}"
