"""The audit trail: who changed which record, when, from where, from what to what.

Two ways in, one buffer per database session:

- Automatic capture. Session hooks watch every flush of the audited models (``SPECS``)
  and buffer one event per record created, updated or deleted. The buffer is written
  just before the transaction commits, inside that transaction: a change that rolls
  back leaves no event, a committed change always has one.
- ``record(session, actor, action, record, changes=None)`` for domain and security
  events (an order approved, a sign-in). It joins the same buffer and absorbs the
  automatic "update" event of the same record in the same transaction, so an approval
  is one "approve" event carrying the status diff rather than two events.

What is recorded is an explicit allow-list per model: a field not listed is never
written. Secrets (password hashes, TOTP secrets, recovery codes, tokens) are listed as
*masked*: the event says that they changed, never their values.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from console.database import db
from console.models import AuditEvent, Customer, Order, OrderLine, Product, Role, User
from console.models.audit import ANONYMOUS_ACTOR, SYSTEM_ACTOR
from console.models.base import utcnow

REDACTED = "[redacted]"
"""Stands for the before and after values of a secret that changed."""

BUFFER_KEY = "console.audit.buffer"

# Actions with a meaning across the console; services may record others.
CREATE, UPDATE, DELETE = "create", "update", "delete"
LOGIN, LOGOUT, LOGIN_FAILED = "login", "logout", "login_failed"
PASSWORD_CHANGED, PASSWORD_RESET, TWO_FACTOR_CHANGED = (
    "password_changed",
    "password_reset",
    "2fa_changed",
)
KNOWN_ACTIONS: tuple[str, ...] = (
    CREATE,
    UPDATE,
    DELETE,
    "approve",
    "reject",
    "ship",
    "deliver",
    "cancel",
    LOGIN,
    LOGOUT,
    LOGIN_FAILED,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    TWO_FACTOR_CHANGED,
)

# A field whose name looks like this is never recorded with its value, whatever a
# spec says: a guard against someone adding a secret to an allow-list by mistake.
SECRET_NAME = re.compile(r"password|secret|token|uniquifier|recovery|otp|webauthn", re.I)


@dataclass(frozen=True)
class AuditSpec:
    """What the trail records of one model."""

    record_type: str
    """Name of the record kind in events (and in the audit view's filters)."""

    fields: tuple[str, ...]
    """Columns recorded with their before and after values."""

    references: Mapping[str, tuple[str, type]] = field(default_factory=dict)
    """Foreign-key column -> (name in the diff, model): recorded as the record's label."""

    collections: tuple[str, ...] = ()
    """Many-to-many relationships recorded as the sorted labels of their members."""

    masked: tuple[str, ...] = ()
    """Secrets: a change is noted as ``[redacted]``, the value never."""

    parent: tuple[str, str, str] | None = None
    """(record type, foreign-key column, relationship) of the record owning this one."""

    owned_collections: tuple[str, ...] = ()
    """Child collections whose changes count as a change of this record (its version)."""


def _build_specs() -> dict[type, AuditSpec]:
    specs = {
        Customer: AuditSpec(
            "customer", ("first_name", "last_name", "email", "phone", "address", "notes")
        ),
        Product: AuditSpec(
            "product", ("sku", "name", "description", "unit_price", "stock", "active")
        ),
        Order: AuditSpec(
            "order",
            (
                "number",
                "status",
                "coupon_code",
                "total",
                "decided_at",
                "rejection_reason",
                "tracking_number",
                "shipped_at",
                "delivered_at",
                "cancelled_at",
            ),
            references={
                "customer_id": ("customer", Customer),
                "created_by_id": ("created_by", User),
                "decided_by_id": ("decided_by", User),
            },
            owned_collections=("lines",),
        ),
        OrderLine: AuditSpec(
            "order_line",
            ("quantity", "unit_price"),
            references={"product_id": ("product", Product)},
            parent=("order", "order_id", "order"),
        ),
        User: AuditSpec(
            "staff_user",
            (
                "email",
                "username",
                "active",
                "confirmed_at",
                "tf_primary_method",
                "tf_phone_number",
                "us_phone_number",
            ),
            collections=("roles",),
            masked=(
                "password",
                "tf_totp_secret",
                "us_totp_secrets",
                "mf_recovery_codes",
            ),
        ),
        # Membership changes are recorded on the staff user ("roles"), not twice.
        Role: AuditSpec("role", ("name", "description", "permissions")),
    }
    for model, spec in specs.items():
        shown = (*spec.fields, *spec.collections, *(n for n, _ in spec.references.values()))
        leaked = [name for name in shown if SECRET_NAME.search(name)]
        if leaked:
            raise RuntimeError(
                f"{model.__name__} would record secrets in the audit trail: {leaked}"
            )
    return specs


SPECS: dict[type, AuditSpec] = _build_specs()
RECORD_TYPES: tuple[str, ...] = tuple(sorted(spec.record_type for spec in SPECS.values()))


def spec_for(obj: object) -> AuditSpec | None:
    """The audit spec of ``obj``'s model, or None when the model is not audited."""
    return SPECS.get(type(obj))


def record_type_of(obj: object) -> str:
    spec = spec_for(obj)
    if spec is not None:
        return spec.record_type
    return getattr(obj, "__tablename__", type(obj).__name__.lower())


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


def _label(session: Session, ref: _Ref) -> str | None:
    if ref.obj is not None:
        identity = inspect(ref.obj).identity
        ref_id = identity[0] if identity else None
        return f"{ref.obj} (#{ref_id})" if ref_id is not None else str(ref.obj)
    if ref.id is None:
        return None
    target = session.get(ref.model, ref.id)
    return f"{target} (#{ref.id})" if target is not None else f"#{ref.id} (deleted)"


def _resolve(session: Session, changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Turn references into labels and values into JSON-safe ones."""
    out: dict[str, list[Any]] = {}
    for name, pair in changes.items():
        out[name] = [
            _label(session, value) if isinstance(value, _Ref) else _plain(value) for value in pair
        ]
    return out


def _labels(items: Iterable[Any]) -> list[str]:
    return sorted(str(item) for item in items)


# --- who, from where ----------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a staff member, the system, or someone not signed in."""

    id: int | None
    email: str

    @classmethod
    def of(cls, actor: Any) -> Actor:
        """``actor`` as given to ``record``: a staff user, an ``Actor``, a label or None."""
        if isinstance(actor, Actor):
            return actor
        if actor is None:
            return SYSTEM
        if isinstance(actor, str):
            return cls(None, actor)
        return cls(getattr(actor, "id", None), getattr(actor, "email", None) or str(actor))


SYSTEM = Actor(None, SYSTEM_ACTOR)
ANONYMOUS = Actor(None, ANONYMOUS_ACTOR)


def current_actor() -> Actor:
    """The signed-in person of the current request, else the system."""
    if not has_request_context():
        return SYSTEM
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return Actor(current_user.id, current_user.email)
    return SYSTEM


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_state() -> dict[str, Any]:
    """Per-request notes of the audit code (kept in the WSGI environ, not in ``g``).

    ``g`` belongs to the app context, which a test or a streamed response may keep
    across several requests; the environ belongs to exactly one request.
    """
    return request.environ.setdefault("console.audit", {})


def request_id() -> str | None:
    """An id shared by every event of one request (``X-Request-ID`` when it is sane)."""
    if not has_request_context():
        return None
    state = request_state()
    if "request_id" not in state:
        incoming = request.headers.get("X-Request-ID", "")
        state["request_id"] = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    return state["request_id"]


def client_addr() -> str | None:
    return request.remote_addr if has_request_context() else None


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
    client_addr: str | None
    request_id: str | None
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

    def keep(self, wanted) -> None:
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


def _entry(session: Session, action: str, obj: Any, actor: Actor | None = None, **kw) -> _Entry:
    if actor is None:
        actor = session.info.get("console.audit.flush_actor") or current_actor()
    return _Entry(
        action=action,
        record_type=kw.pop("record_type", None) or record_type_of(obj),
        obj=obj,
        actor=actor,
        changes=kw.pop("changes", None),
        tx=_transaction(session),
        client_addr=client_addr(),
        request_id=request_id(),
        **kw,
    )


def record(
    session: Session,
    actor: Any,
    action: str,
    record: Any,
    changes: Mapping[str, Iterable[Any]] | None = None,
    *,
    note: str | None = None,
    record_type: str | None = None,
) -> None:
    """Add a domain or security event to the transaction under way.

    ``actor`` is the staff user acting (None for the system; a string for someone not
    signed in, e.g. ``"anonymous"``). ``record`` is the model instance concerned (or
    None with ``record_type`` for an event about no stored record). ``changes`` is a
    ``{field: (before, after)}`` diff; the automatic diff of ``record`` in this
    transaction is merged in (explicit values win) and not written twice. The event is
    written when ``session`` commits and vanishes if it rolls back.
    """
    if isinstance(session, scoped_session):
        session = session()  # the request's own session, whose transaction we join
    if session.get_transaction() is None:
        # Start the transaction the event belongs to, as adding a record would, so
        # that a rollback before the next statement discards the event too.
        session.begin()
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
        session,
        action,
        record,
        Actor.of(actor),
        record_type=record_type,
        changes=given,
        explicit=True,
        note=note[:500] if note else None,
    )
    if record is not None and spec is not None:
        entry.parent = _parent_of(record, spec)
    _buffer(session).add(entry)


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
    for fk, (label, model) in spec.references.items():
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
    if load:
        names = (*spec.fields, *spec.references, *spec.collections, *spec.masked)
        values = {name: getattr(obj, name) for name in names}
    else:
        values = inspect(obj).dict
    out: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        if value is None or value == []:
            return
        out[name] = [value, None] if deleted else [None, value]

    for name in spec.fields:
        put(name, values.get(name))
    for fk, (label, model) in spec.references.items():
        if values.get(fk) is not None:
            put(label, _Ref(model, values[fk]))
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


def _before_flush(session: Session, _flush_context, _instances) -> None:
    """Buffer an event for each audited record this flush creates, changes or deletes."""
    buffer = _buffer(session)
    with session.no_autoflush:
        actor = current_actor()
        session.info["console.audit.flush_actor"] = actor
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
            for name, (before, after) in changes.items():
                first = pending.changes.get(name, [before])[0]
                pending.changes[name] = [first, after]
                if _same(first, after):
                    del pending.changes[name]
        for obj in list(session.deleted):
            spec = spec_for(obj)
            if spec is not None:
                _add_delete(session, obj, spec, can_load=True)


def _persistent_to_deleted(session: Session, obj: Any) -> None:
    """Catch deletions decided inside the flush (orphaned order lines)."""
    spec = spec_for(obj)
    if spec is not None:
        _add_delete(session, obj, spec, can_load=False)


def _before_commit(session: Session) -> None:
    """Write the buffered events into the transaction that is about to commit."""
    session.flush()
    buffer = session.info.get(BUFFER_KEY)
    if not buffer:
        return
    entries = _absorb(buffer)
    rows = [_row(session, entry) for entry in entries]
    buffer.clear()
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)


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


def _row(session: Session, entry: _Entry) -> dict[str, Any]:
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
            owner_model = state.mapper.relationships[spec.parent[2]].mapper.class_
            owner = session.get(owner_model, entry.parent[1]) if entry.parent[1] else None
            version = getattr(owner, "version", None) if owner is not None else None
        if entry.action == CREATE and not entry.frozen and spec is not None:
            entry.changes = _snapshot(obj, spec, deleted=False, load=True)
    parent_type, parent_id = entry.parent or (None, None)
    return {
        "at": utcnow(),
        "actor_id": entry.actor.id,
        "actor_email": entry.actor.email[:255],
        "client_addr": entry.client_addr,
        "request_id": entry.request_id,
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


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
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


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(BUFFER_KEY, None)
        session.info.pop("console.audit.flush_actor", None)


def install() -> None:
    """Attach the capture hooks to the console's database session (once per process)."""
    target = db.session
    hooks = {
        "before_flush": _before_flush,
        "persistent_to_deleted": _persistent_to_deleted,
        "before_commit": _before_commit,
        "after_soft_rollback": _after_soft_rollback,
        "after_transaction_end": _after_transaction_end,
    }
    for name, fn in hooks.items():
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def deletion_of(session: Session, record_type: str, record_id: Any) -> AuditEvent | None:
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
