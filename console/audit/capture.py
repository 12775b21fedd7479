"""Capture: the event buffer of a session, the field-level diff, and the session hooks.

Three ways in; the first two share one buffer per database session:

- Automatic capture. ``before_flush`` watches every flush of the audited models
  (``console.audit.spec``) and buffers one event per record created, updated or
  deleted. ``before_commit`` writes the buffer inside the committing transaction: a
  change that rolls back leaves no event, a committed change always has one.
- ``record(session, actor, action, record, ...)`` for domain and security events (an
  order approved, a sign-in). It joins the same buffer and absorbs the automatic
  "update" event of the same record in the same transaction, so an approval is one
  "approve" event carrying the status diff rather than two events.
- ``record_written(session, model, written)`` for records written in bulk by Core
  statements (an import), which no flush sees: the same events as the flush would
  record, inserted at once into the transaction under way.

The hooks are attached by ``console.session_hooks``, which lists everything that
happens when the console's session flushes and commits.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, inspect, select
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from console.audit.actions import CREATE, DELETE, UPDATE
from console.audit.context import Actor, EventContext, current_actor, current_context
from console.audit.spec import (
    SECRET_NAME,
    SPECS,
    AuditSpec,
    record_type_of,
    reference_model,
    spec_for,
)
from console.database import execute_many
from console.models import AuditEvent
from console.models.base import utcnow

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
"""Stands for the before and after values of a secret that changed."""

BUFFER_KEY = "console.audit.buffer"
FLUSH_ACTOR_KEY = "console.audit.flush_actor"
ACTING_KEY = "console.audit.acting"
"""``Session.info`` key of the ``Acting`` that automatic capture records changes under."""


@dataclass(frozen=True)
class Acting:
    """Who the automatic capture records a session's changes as, and under what.

    Set for work done on someone's behalf outside their request (an import applied by
    a job): the changes are theirs, and each event carries the ``note`` (the import it
    came from) and the ``context``.
    """

    actor: Actor
    note: str | None = None
    context: EventContext | None = None


@contextmanager
def acting(
    session: Session | scoped_session,
    actor: Any,
    *,
    note: str | None = None,
    context: EventContext | None = None,
) -> Iterator[None]:
    """Record the changes ``session`` flushes inside the block as ``actor``'s, with ``note``."""
    own = session() if isinstance(session, scoped_session) else session
    own.info[ACTING_KEY] = Acting(Actor.of(actor), note[:500] if note else None, context)
    try:
        yield
    finally:
        own.info.pop(ACTING_KEY, None)


# --- values -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """A reference to another record, turned into its label when the event is written.

    ``obj`` is kept when the reference was set through the relationship: a record
    created in the same transaction has no id until the flush.
    """

    model: type
    id: Any
    obj: Any = None


def _plain(value: Any) -> Any:
    """A JSON-safe form of a column value (money stays exact as text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def _label(
    session: Session, ref: _Ref, known: dict[tuple[type, Any], str] | None = None
) -> str | None:
    """What a reference reads as in an event: the record's label and id.

    ``known`` keeps the labels found, for a caller resolving many events at once.
    """
    if known is not None and ref.obj is None:
        key = (ref.model, ref.id)
        if key not in known:
            known[key] = _label(session, ref)  # type: ignore[assignment]
        return known[key]
    if ref.obj is not None:
        identity = inspect(ref.obj).identity
        ref_id = identity[0] if identity else None
        return f"{ref.obj} (#{ref_id})" if ref_id is not None else str(ref.obj)
    if ref.id is None:
        return None
    target = session.get(ref.model, ref.id)
    return f"{target} (#{ref.id})" if target is not None else f"#{ref.id} (deleted)"


def _resolve(
    session: Session,
    changes: dict[str, list[Any]],
    known: dict[tuple[type, Any], str] | None = None,
) -> dict[str, list[Any]]:
    """Turn references into labels and values into JSON-safe ones."""
    out: dict[str, list[Any]] = {}
    for name, pair in changes.items():
        out[name] = [
            _label(session, value, known) if isinstance(value, _Ref) else _plain(value)
            for value in pair
        ]
    return out


def _labels(items: Iterable[Any]) -> list[str]:
    return sorted(str(item) for item in items)


# --- the buffer ---------------------------------------------------------------------


@dataclass
class _Entry:
    """One event waiting for its transaction to commit."""

    action: str
    record_type: str
    obj: Any
    actor: Actor
    changes: dict[str, list[Any]] | None
    tx: SessionTransaction | None
    context: EventContext
    explicit: bool = False
    note: str | None = None
    record_id: Any = None
    label: str | None = None
    parent: tuple[str, Any] | None = None
    frozen: bool = False
    """A create entry whose snapshot was taken already (the record was deleted after)."""


class _Buffer:
    """The events of one session's transaction, in order, indexed by record and action.

    The index keeps a flush of thousands of records linear: each record's pending
    event is found without scanning the others.
    """

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self._index: dict[tuple[int, str], _Entry] = {}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def add(self, entry: _Entry) -> None:
        self.entries.append(entry)
        if not entry.explicit and entry.obj is not None:
            # The entry holds the object, so its id() cannot be reused meanwhile.
            self._index.setdefault((id(entry.obj), entry.action), entry)

    def find(self, obj: Any, action: str) -> _Entry | None:
        """The automatic event of ``action`` buffered for ``obj``, if any."""
        return self._index.get((id(obj), action))

    def keep(self, wanted: Callable[[_Entry], bool]) -> None:
        """Keep only the entries ``wanted(entry)`` accepts."""
        entries = [e for e in self.entries if wanted(e)]
        self.clear()
        for entry in entries:
            self.add(entry)

    def clear(self) -> None:
        self.entries.clear()
        self._index.clear()


def _buffer(session: Session) -> _Buffer:
    return session.info.setdefault(BUFFER_KEY, _Buffer())


def _transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _entry(
    session: Session,
    action: str,
    obj: Any,
    actor: Actor | None = None,
    context: EventContext | None = None,
    **kw: Any,
) -> _Entry:
    on_behalf: Acting | None = session.info.get(ACTING_KEY)
    if actor is None:
        actor = session.info.get(FLUSH_ACTOR_KEY) or current_actor()
    if on_behalf is not None:
        context = context or on_behalf.context
        if not kw.get("note") and not kw.get("explicit"):
            kw["note"] = on_behalf.note
    return _Entry(
        action=action,
        record_type=kw.pop("record_type", None) or record_type_of(obj),
        obj=obj,
        actor=actor,
        changes=kw.pop("changes", None),
        tx=_transaction(session),
        context=context or current_context(),
        **kw,
    )


def record(
    session: Session | scoped_session,
    actor: Any,
    action: str,
    record: Any,
    changes: Mapping[str, Iterable[Any]] | None = None,
    *,
    note: str | None = None,
    record_type: str | None = None,
    context: EventContext | None = None,
) -> None:
    """Add a domain or security event to the transaction under way.

    ``actor`` is the staff user acting (None for the system; a string for someone not
    signed in, e.g. ``"anonymous"``). ``record`` is the model instance concerned (or
    None with ``record_type`` for an event about no stored record). ``changes`` is a
    ``{field: (before, after)}`` diff; the automatic diff of ``record`` in this
    transaction is merged in (explicit values win) and not written twice. ``context``
    says where the event comes from; by default the current request's (none outside a
    request). The event is written when ``session`` commits and vanishes if it rolls
    back.
    """
    # A scoped session stands for the request's own session, whose transaction we join.
    own = session() if isinstance(session, scoped_session) else session
    if own.get_transaction() is None:
        # Start the transaction the event belongs to, as adding a record would, so
        # that a rollback before the next statement discards the event too.
        own.begin()
    if record is None and not record_type:
        raise ValueError("record() needs a record or a record_type")
    spec = spec_for(record) if record is not None else None
    masked = spec.masked if spec is not None else ()
    given = {}
    for name, pair in (changes or {}).items():
        before, after = pair
        secret = name in masked or SECRET_NAME.search(name)
        given[name] = [REDACTED, REDACTED] if secret else [before, after]
    entry = _entry(
        own,
        action,
        record,
        Actor.of(actor),
        context,
        record_type=record_type,
        changes=given,
        explicit=True,
        note=note[:500] if note else None,
    )
    if record is not None and spec is not None:
        entry.parent = _parent_of(record, spec)
    _buffer(own).add(entry)


@dataclass(frozen=True)
class Written:
    """A record written by a Core statement rather than the unit of work (a bulk import).

    ``before`` holds the values the statement replaced (empty for a creation) and
    ``after`` the values it wrote, by column name (a reference by its key column);
    ``version`` and ``label`` are the record's after the write.
    """

    action: str
    record_id: Any
    version: int | None
    label: str | None
    after: Mapping[str, Any]
    before: Mapping[str, Any] | None = None


def record_written(
    session: Session | scoped_session,
    model: type,
    written: Iterable[Written],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Record the creations and updates of ``model`` records written in bulk; how many.

    Statements that bypass the unit of work (``INSERT``/``UPDATE`` executed many at
    once) are not seen by the automatic capture: this records the same events the
    flush of those records would have (``create`` with the record's values, ``update``
    with the changed fields before and after, references by label, secrets masked),
    as the person the session is ``acting`` for, with its note. The events are
    inserted at once into the transaction under way, so that an import of 100,000
    rows does not keep 100,000 events until it commits; they roll back with it.
    """
    own = session() if isinstance(session, scoped_session) else session
    spec = SPECS.get(model)
    if spec is None:
        return 0
    on_behalf: Acting | None = own.info.get(ACTING_KEY)
    actor = on_behalf.actor if on_behalf is not None else current_actor()
    context = (on_behalf.context if on_behalf is not None else None) or current_context()
    note = on_behalf.note if on_behalf is not None else None
    when = at or utcnow()
    known: dict[tuple[type, Any], str] = {}
    rows = []
    for item in written:
        if item.action == CREATE:
            changes = _snapshot_of(model, item.after, spec, deleted=False)
        else:
            changes = _diff_of(model, item.before or {}, item.after, spec)
            if not changes:
                continue
        parent_type, parent_id = None, None
        if spec.parent is not None:
            parent_type = spec.parent[0]
            parent_id = item.after.get(spec.parent[1], (item.before or {}).get(spec.parent[1]))
        rows.append(
            {
                "at": when,
                "actor_id": actor.id,
                "actor_email": actor.email[:255],
                "client_addr": context.client_addr,
                "request_id": context.request_id,
                "action": item.action,
                "record_type": spec.record_type,
                "record_id": item.record_id,
                "record_label": item.label[:255] if item.label is not None else None,
                "record_version": item.version,
                "parent_type": parent_type,
                "parent_id": parent_id,
                "changes": _resolve(own, changes, known),
                "note": note,
            }
        )
    if rows:
        execute_many(own.connection(), insert(cast(Table, AuditEvent.__table__)), rows)
    return len(rows)


def _diff_of(
    model: type, before: Mapping[str, Any], after: Mapping[str, Any], spec: AuditSpec
) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of the audited values ``after`` changes (as ``_diff``)."""
    changes: dict[str, list[Any]] = {}
    for name in spec.fields:
        if name in after and before.get(name) != after[name]:
            changes[name] = [before.get(name), after[name]]
    for fk, label in spec.references.items():
        if fk in after and before.get(fk) != after[fk]:
            target = reference_model(model, label)
            changes[label] = [_Ref(target, before.get(fk)), _Ref(target, after[fk])]
    for name in spec.masked:
        if name in after and before.get(name) != after[name]:
            changes[name] = [REDACTED, REDACTED]
    return changes


# --- diffs --------------------------------------------------------------------------


def _parent_of(obj: Any, spec: AuditSpec) -> tuple[str, Any] | None:
    if spec.parent is None:
        return None
    parent_type, fk, relationship = spec.parent
    parent_id = inspect(obj).dict.get(fk)
    if parent_id is None:
        related = inspect(obj).dict.get(relationship)
        parent_id = (
            inspect(related).identity[0]
            if related is not None and inspect(related).identity
            else None
        )
    return (parent_type, parent_id)


def _diff(session: Session, obj: Any, spec: AuditSpec) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of ``obj``'s unflushed changes, audited fields only."""
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    unknown_before: list[str] = []
    columns = (*spec.fields, *spec.references)
    for name in columns:
        history = state.attrs[name].history
        if not history.added and not history.deleted:
            continue
        after = history.added[0] if history.added else None
        if history.deleted:
            changes[name] = [history.deleted[0], after]
        else:
            # The old value was never loaded (the row was expired): read it below.
            changes[name] = [None, after]
            unknown_before.append(name)
    if unknown_before and state.identity is not None:
        mapper = state.mapper
        cols = [mapper.attrs[name].columns[0] for name in unknown_before]
        pk = mapper.primary_key[0]
        row = session.execute(select(*cols).where(pk == state.identity[0])).one_or_none()
        if row is not None:
            for name, before in zip(unknown_before, row, strict=True):
                changes[name][0] = before
    for name in list(changes):
        if changes[name][0] == changes[name][1]:
            del changes[name]
    for fk, label in spec.references.items():
        model = reference_model(state.class_, label)
        if fk in changes:
            before, after = changes.pop(fk)
            changes[label] = [_Ref(model, before), _Ref(model, after)]
        # Set through the relationship (as forms do), the key column changes only
        # during the flush: read the relationship's own history.
        history = state.attrs[label].history
        if history.added or history.deleted:
            new = history.added[0] if history.added else None
            old = (
                _Ref(model, None, history.deleted[0])
                if history.deleted
                else _Ref(model, state.dict.get(fk))
            )
            after = _Ref(model, None, new) if new is not None else _Ref(model, None)
            if _same(old, after):
                changes.pop(label, None)
            else:
                changes[label] = [old, after]
    for name in spec.collections:
        history = state.attrs[name].history
        if history.added or history.deleted:
            kept = list(history.unchanged)
            before, after = _labels([*kept, *history.deleted]), _labels([*kept, *history.added])
            if before != after:
                changes[name] = [before, after]
    for name in spec.masked:
        history = state.attrs[name].history
        if history.added or history.deleted:
            changes[name] = [REDACTED, REDACTED]
    return changes


def _ref_id(ref: _Ref) -> Any:
    if ref.obj is not None:
        identity = inspect(ref.obj).identity
        return identity[0] if identity else id(ref.obj)
    return ref.id


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, _Ref) and isinstance(b, _Ref):
        return _ref_id(a) == _ref_id(b)
    return a == b


def _snapshot(obj: Any, spec: AuditSpec, *, deleted: bool, load: bool) -> dict[str, list[Any]]:
    """All audited values of ``obj`` as a creation (``[None, v]``) or deletion diff.

    With ``load`` false (inside a flush) only values already loaded are read.
    """
    values = {name: getattr(obj, name) for name in spec.watched} if load else inspect(obj).dict
    return _snapshot_of(type(obj), values, spec, deleted=deleted)


def _snapshot_of(
    model: type, values: Mapping[str, Any], spec: AuditSpec, *, deleted: bool
) -> dict[str, list[Any]]:
    """The creation (or deletion) diff of a ``model`` record holding ``values``."""
    out: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        if value is None or value == []:
            return
        out[name] = [value, None] if deleted else [None, value]

    for name in spec.fields:
        put(name, values.get(name))
    for fk, label in spec.references.items():
        if values.get(fk) is not None:
            put(label, _Ref(reference_model(model, label), values[fk]))
    for name in spec.collections:
        if name in values:
            put(name, _labels(values[name]))
    for name in spec.masked:
        if values.get(name) not in (None, "", []):
            put(name, REDACTED)
    return out


def _safe_label(obj: Any) -> str | None:
    try:
        return str(obj)[:255]
    except Exception:  # noqa: BLE001 - a label must never break the change it describes
        return None


def _add_delete(session: Session, obj: Any, spec: AuditSpec, *, can_load: bool) -> None:
    buffer = _buffer(session)
    if buffer.find(obj, DELETE) is not None:
        return
    state = inspect(obj)
    created = buffer.find(obj, CREATE)
    if created is not None and not created.frozen:
        created.changes = _snapshot(obj, spec, deleted=False, load=can_load)
        created.record_id = state.identity[0] if state.identity else None
        created.label = _safe_label(obj)
        created.frozen = True
    buffer.add(
        _entry(
            session,
            DELETE,
            obj,
            changes=_snapshot(obj, spec, deleted=True, load=can_load),
            record_id=state.identity[0] if state.identity else None,
            label=_safe_label(obj),
            parent=_parent_of(obj, spec),
        )
    )


# --- session hooks ------------------------------------------------------------------


def before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Buffer an event for each audited record this flush creates, changes or deletes."""
    buffer = _buffer(session)
    with session.no_autoflush:
        on_behalf: Acting | None = session.info.get(ACTING_KEY)
        actor = on_behalf.actor if on_behalf is not None else current_actor()
        session.info[FLUSH_ACTOR_KEY] = actor
        for obj in list(session.new):
            spec = spec_for(obj)
            if spec is not None and buffer.find(obj, CREATE) is None:
                buffer.add(_entry(session, CREATE, obj, actor))
        for obj in list(session.dirty):
            spec = spec_for(obj)
            if spec is None or not session.is_modified(obj):
                continue
            if buffer.find(obj, CREATE) is not None:
                continue  # the creation event shows the values as committed
            changes = _diff(session, obj, spec)
            if not changes:
                continue
            pending = buffer.find(obj, UPDATE)
            if pending is None:
                buffer.add(
                    _entry(
                        session, UPDATE, obj, actor, changes=changes, parent=_parent_of(obj, spec)
                    )
                )
                continue
            pending_changes = pending.changes if pending.changes is not None else {}
            for name, (before, after) in changes.items():
                first = pending_changes.get(name, [before])[0]
                pending_changes[name] = [first, after]
                # A secret's placeholders hide its values: that it changed in one of
                # the flushes is all that can be said, and is kept.
                if name not in spec.masked and _same(first, after):
                    del pending_changes[name]
            pending.changes = pending_changes
        for obj in list(session.deleted):
            spec = spec_for(obj)
            if spec is not None:
                _add_delete(session, obj, spec, can_load=True)


def persistent_to_deleted(session: Session, obj: Any) -> None:
    """Catch deletions decided inside the flush (orphaned order lines)."""
    spec = spec_for(obj)
    if spec is not None:
        _add_delete(session, obj, spec, can_load=False)


def before_commit(session: Session) -> None:
    """Write the buffered events into the transaction that is about to commit."""
    session.flush()
    buffer = session.info.get(BUFFER_KEY)
    if not buffer:
        return
    entries = _absorb(buffer)
    # One instant for the whole transaction: its events were committed together.
    at = utcnow()
    rows = [_row(session, entry, at) for entry in entries]
    buffer.clear()
    if rows:
        session.connection().execute(insert(AuditEvent), rows)
        log.debug("recorded %d audit event(s)", len(rows))


def _absorb(buffer: _Buffer) -> list[_Entry]:
    """Merge each automatic update into the explicit event recorded for the same record.

    Automatic updates whose changes cancelled out (a value set and set back) are dropped.
    """
    absorbed: set[int] = set()
    for event_ in buffer.entries:
        if not event_.explicit or event_.obj is None:
            continue
        automatic = buffer.find(event_.obj, UPDATE)
        if automatic is not None:
            event_.changes = {**(automatic.changes or {}), **(event_.changes or {})}
            absorbed.add(id(automatic))
    return [
        e
        for e in buffer.entries
        if id(e) not in absorbed and (e.explicit or e.action != UPDATE or e.changes)
    ]


def _row(session: Session, entry: _Entry, at: dt.datetime) -> dict[str, Any]:
    obj = entry.obj
    spec = spec_for(obj) if obj is not None else None
    record_id, label, version = entry.record_id, entry.label, None
    if obj is not None:
        state = inspect(obj)
        if state.identity is not None:
            record_id = state.identity[0]
        if not state.deleted and not state.was_deleted:
            label = label or _safe_label(obj)
            version = state.dict.get("version")
        if spec is not None and spec.parent is not None and entry.parent is None:
            entry.parent = _parent_of(obj, spec)
        if version is None and spec is not None and spec.parent and entry.parent:
            # A part's event carries its owner's version: the owner's stale-form
            # message finds it that way (see console.services.concurrency).
            owner_model = reference_model(state.class_, spec.parent[2])
            owner = session.get(owner_model, entry.parent[1]) if entry.parent[1] else None
            version = getattr(owner, "version", None) if owner is not None else None
        if entry.action == CREATE and not entry.frozen and spec is not None:
            entry.changes = _snapshot(obj, spec, deleted=False, load=True)
    parent_type, parent_id = entry.parent or (None, None)
    return {
        "at": at,
        "actor_id": entry.actor.id,
        "actor_email": entry.actor.email[:255],
        "client_addr": entry.context.client_addr,
        "request_id": entry.context.request_id,
        "action": entry.action,
        "record_type": entry.record_type,
        "record_id": record_id,
        "record_label": label,
        "record_version": version,
        "parent_type": parent_type,
        "parent_id": parent_id,
        "changes": _resolve(session, entry.changes or {}),
        "note": entry.note,
    }


def after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    """Forget the events of changes that were rolled back (a savepoint or everything)."""
    buffer = session.info.get(BUFFER_KEY)
    if not buffer:
        return
    if previous.parent is None:
        buffer.clear()
        return
    buffer.keep(lambda e: not _within(e.tx, previous))


def _within(tx: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """Drop the buffer and the flush's actor when the outermost transaction ends."""
    if transaction.parent is None:
        session.info.pop(BUFFER_KEY, None)
        session.info.pop(FLUSH_ACTOR_KEY, None)
