"""Questions the console asks the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, scoped_session

from console.audit.actions import DELETE
from console.models import AuditEvent


def deletion_of(
    session: Session | scoped_session[Any], record_type: str, record_id: Any
) -> AuditEvent | None:
    """The event that deleted a record, if the trail has one."""
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        return None
    query = (
        select(AuditEvent)
        .where(
            AuditEvent.record_type == record_type,
            AuditEvent.record_id == record_id,
            AuditEvent.action == DELETE,
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def events_of(
    session: Session | scoped_session[Any], record_type: str, record_id: Any, limit: int = 200
) -> list[AuditEvent]:
    """A record's events and its parts' (an order's lines), oldest first, at most ``limit``.

    When there are more, the newest ``limit`` are returned.
    """
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        return []
    own = and_(AuditEvent.record_type == record_type, AuditEvent.record_id == record_id)
    parts = and_(AuditEvent.parent_type == record_type, AuditEvent.parent_id == record_id)
    query = (
        select(AuditEvent)
        .where(or_(own, parts))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))
