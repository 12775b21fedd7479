"""Optimistic concurrency: a change based on a stale version of a record is refused.

Versioned rows (``VersionedMixin``) carry a ``version`` that SQLAlchemy bumps and checks
on every UPDATE. A form or a workflow button remembers the version it was shown; the
change is accepted only while the record still has that version
(``ensure_current``). The refusal names what the other person changed, read from the
audit trail, so nobody loses work without being told.

A change of a record's parts (an order's lines) counts as a change of the record: the
owner's version is bumped too, so two people editing the lines of one order are caught
like two people editing its customer. ``touch_owners`` does that at each flush; it is
attached with the other session hooks in ``console.session_hooks``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.orm import Session

from console import audit
from console.audit import display
from console.models import AuditEvent
from console.models.base import utcnow
from console.services.errors import DomainError

MAX_EVENTS_SHOWN = 5


class StaleRecordError(DomainError):
    """The record changed since the version the person's form or button was based on."""

    def __init__(self, message: str, events: list[AuditEvent]) -> None:
        super().__init__(message)
        self.events = events


def parse_version(raw: Any) -> int | None:
    """The version carried by a form, or None when it is missing or not a number."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def events_since(session: Session, record: Any, version: int) -> list[AuditEvent]:
    """Audit events that moved ``record`` past ``version``, oldest first (its parts too)."""
    record_type = audit.record_type_of(record)
    record_id = inspect(record).identity[0]
    own = and_(AuditEvent.record_type == record_type, AuditEvent.record_id == record_id)
    parts = and_(AuditEvent.parent_type == record_type, AuditEvent.parent_id == record_id)
    query = (
        select(AuditEvent)
        .where(or_(own, parts), AuditEvent.record_version > version)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(session.scalars(query))


def _value(value: Any) -> str:
    text = display.shown(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_event(event_: AuditEvent) -> str:
    """One line a person can read: who did what when, and the changed values."""
    when = event_.at.strftime("%Y-%m-%d %H:%M UTC")
    what = event_.action
    if event_.record_type != "order" and event_.parent_type:
        what = f"{event_.action} of {event_.record_type.replace('_', ' ')} {event_.record_label}"
    diffs = "; ".join(
        f"{name.replace('_', ' ')}: {_value(before)} → {_value(after)}"
        for name, (before, after) in (event_.changes or {}).items()
    )
    line = f"{event_.actor_email} ({what}, {when})"
    return f"{line}: {diffs}" if diffs else line


RELOAD_ADVICE = "Reload the record to see the current values, then apply your change again."
"""What a refused workflow button tells the person to do (an edit page says more)."""


def stale_message(record: Any, events: list[AuditEvent], advice: str = RELOAD_ADVICE) -> str:
    """Why a change of ``record`` was refused: who changed what since, then ``advice``."""
    kind = audit.record_type_of(record).replace("_", " ")
    head = (
        f"Someone else changed this {kind} ({record}) after you opened it, so your "
        "changes were not saved and nothing was overwritten."
    )
    if events:
        shown = [describe_event(e) for e in events[-MAX_EVENTS_SHOWN:]]
        more = len(events) - len(shown)
        if more:
            shown.insert(0, f"{more} earlier change(s) not shown")
        head += " Their change: " + " | ".join(shown) + "."
    return f"{head} {advice}"


def ensure_current(
    session: Session, record: Any, loaded_version: Any, *, advice: str = RELOAD_ADVICE
) -> None:
    """Raise ``StaleRecordError`` unless ``record`` still has ``loaded_version``.

    ``loaded_version`` is the version the person's form (or workflow button) was built
    from; a missing or malformed one is refused too, since it cannot be vouched for.
    Call it before changing ``record``: on refusal nothing has been touched. ``advice``
    ends the message: what the person can do next where they are.
    """
    current = getattr(record, "version", None)
    if current is None:
        return
    loaded = parse_version(loaded_version)
    if loaded is None:
        raise StaleRecordError(
            gettext(
                "This form does not say which version of the record it was opened on, so saving "
                "it could overwrite someone else's change. Nothing was saved. %(advice)s",
                advice=advice,
            ),
            [],
        )
    if loaded == current:
        return
    events = events_since(session, record, loaded) if loaded < current else []
    raise StaleRecordError(stale_message(record, events, advice), events)


def fields_changed_by(record: Any, events: list[AuditEvent]) -> set[str]:
    """The names of ``record``'s attributes that ``events`` changed.

    A change of one of its parts (an order line) counts as a change of the collection
    that owns the parts (the order's ``lines``).
    """
    record_type = audit.record_type_of(record)
    spec = audit.spec_for(record)
    changed: set[str] = set()
    for event_ in events:
        if event_.record_type == record_type:
            changed.update(event_.changes or {})
        elif event_.parent_type == record_type and spec is not None:
            changed.update(spec.owned_collections)
    return changed


# --- owners' versions ---------------------------------------------------------------


def _bump(obj: Any, deleted) -> None:
    """Make SQLAlchemy UPDATE ``obj`` (checking and bumping its version)."""
    state = inspect(obj)
    if state.persistent and obj not in deleted and hasattr(obj, "updated_at"):
        obj.updated_at = utcnow()


def _counts_as_edit(obj: Any, spec: audit.AuditSpec) -> bool:
    """True when ``obj`` has an unflushed change of a field its audit spec records."""
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in spec.watched)


def _manually_versioned(obj: Any) -> bool:
    mapper = inspect(obj).mapper
    return mapper.version_id_col is None and "version" in mapper.columns


def touch_owners(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Move versions: a part's change moves its owner's; staff edits move the account's."""
    # Session.dirty and .deleted are computed on each access: take them once.
    dirty, deleted = session.dirty, session.deleted
    with session.no_autoflush:
        for obj in [*session.new, *dirty, *deleted]:
            spec = audit.spec_for(obj)
            if spec is None:
                continue
            if obj in dirty and _manually_versioned(obj) and _counts_as_edit(obj, spec):
                obj.version = (obj.version or 0) + 1
            if spec.parent is not None and (obj not in dirty or session.is_modified(obj)):
                owner = getattr(obj, spec.parent[2], None)
                if owner is not None:
                    _bump(owner, deleted)
            for name in spec.owned_collections:
                history = inspect(obj).attrs[name].history
                if history.added or history.deleted:
                    _bump(obj, deleted)
