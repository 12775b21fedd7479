"""An order's timeline: the whole story of the order, in time order.

Shown on the order's details and edit pages to everyone who may read the order:

- from the audit trail, who took the order, who changed it (with the values before
  and after, as a person reads them) and who moved it through the workflow (with the
  reason, tracking number or stock note the transition recorded);
- from the outbox, every e-mail to the customer about the order and how its delivery
  stands (queued, sending, sent, retrying, failed);
- the internal notes staff added (``console.services.order_notes``);
- each return of the order: requested, received and refunded, with links to the
  return and its credit note (``console.services.returns``).

The values shown are the order's own (customer, lines, total, coupon code), which the
same people read on the page anyway; the History link leads audit readers to the
full trail.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import url_for
from flask_babel import gettext, lazy_gettext, ngettext

from console import audit, localtime
from console.admin.formatters import format_money
from console.audit.display import field_name, shown
from console.database import db
from console.models import AuditEvent, Order, OrderNote, OutboxMessage, Return
from console.services import notifications, order_notes, returns

ORDER_VERBS = {
    audit.CREATE: lazy_gettext("took the order"),
    audit.APPROVE: lazy_gettext("approved"),
    audit.REJECT: lazy_gettext("rejected"),
    audit.SHIP: lazy_gettext("shipped"),
    audit.DELIVER: lazy_gettext("marked delivered"),
    audit.CANCEL: lazy_gettext("cancelled"),
    audit.DELETE: lazy_gettext("deleted the order"),
}
"""What a person did to the order, after their name; other actions read by their
``audit.action_label``."""
LINE_VERBS = {
    audit.CREATE: lazy_gettext("added line"),
    audit.UPDATE: lazy_gettext("changed line"),
    audit.DELETE: lazy_gettext("removed line"),
}
FIELD_NAMES = {
    "customer": lazy_gettext("customer"),
    "total": lazy_gettext("total"),
    "subtotal": lazy_gettext("subtotal"),
    "discount_total": lazy_gettext("discount"),
    "shipping_total": lazy_gettext("shipping"),
    "tax_total": lazy_gettext("tax"),
    "coupon_code": lazy_gettext("coupon code"),
    "shipping_method": lazy_gettext("shipping method"),
}
"""The fields a change names first, in this order; any other follows by name."""

PLACED = lazy_gettext("placed the order")
"""A draft saved with "Save": from then on the customer knows of the order."""

TRANSITION_NOTES = {audit.REJECT: lazy_gettext("Reason: %(note)s")}
"""How a transition's recorded note reads; others read as recorded."""

PART_OF_THE_TOTAL = frozenset({"subtotal", "discount_total", "shipping_total", "tax_total"})
"""Figures the summary leaves out when it names the total (their values are in the diff)."""

MONEY_FIELDS = frozenset(
    {"total", "subtotal", "discount_total", "shipping_total", "tax_total", "unit_price"}
)

# Kinds of entry, each drawn its own way by templates/admin/order/_timeline.html.
CHANGE, TRANSITION, EMAIL, NOTE = "change", "transition", "email", "note"
TAKEN, EDITED, LINE = "taken", "edited", "line"
"""The steps of a part (``TimelinePart.step``) that tell who took and who changed the
order: read by ``changed_by``, never its words, which are the reader's language."""

_RANK = {CHANGE: 0, TRANSITION: 0, EMAIL: 1, NOTE: 2}
"""Between entries of the same instant: the change first, then the e-mail it queued."""


def _field_order(name: str) -> tuple[int, str]:
    order = list(FIELD_NAMES)
    return (order.index(name), "") if name in order else (len(order), name)


@dataclass
class TimelinePart:
    """One thing done within an entry: a sentence, the values it changed, a note."""

    text: str
    changes: list[str] = field(default_factory=list)
    note: str | None = None
    step: str | None = None
    """What kind of thing was done, whatever the language it reads in: ``TAKEN``,
    ``EDITED`` (the order's fields), ``LINE`` (a line added, changed or removed)."""


@dataclass
class TimelineEntry:
    """One line of the story: what one person did in one request, an e-mail or a note."""

    at: dt.datetime
    actor: str
    parts: list[TimelinePart] = field(default_factory=list)
    request_id: str | None = None
    kind: str = CHANGE
    state: str | None = None
    """An e-mail's delivery state (``notifications.DELIVERY_STATES``)."""
    delivery: str | None = None
    """An e-mail's delivery in words ("sent 2026-05-01 10:02")."""
    body: str | None = None
    """A note's text."""
    record_id: int | None = None
    """The e-mail's or the note's id."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """(text, URL) of records the entry is about (a return, its credit note)."""

    @property
    def what(self) -> list[str]:
        return [part.text for part in self.parts]

    @property
    def when(self) -> str:
        return localtime.show(self.at, zone_name=False)

    @property
    def text(self) -> str:
        return "; ".join(self.what)

    @property
    def changes(self) -> list[str]:
        return [change for part in self.parts for change in part.changes]

    @property
    def notes(self) -> list[str]:
        return [part.note for part in self.parts if part.note]

    def _key(self) -> tuple[dt.datetime, int]:
        return (self.at, _RANK[self.kind])


# --- the audit trail ----------------------------------------------------------------


def _value(name: str, value: Any) -> str:
    if name in MONEY_FIELDS and value not in (None, ""):
        try:
            return format_money(value)
        except ArithmeticError:
            return shown(value)
    return shown(value)


def _diff(changes: dict[str, Any], names: Iterable[str]) -> list[str]:
    """``["customer: Ada <ada@…> → Eve <eve@…>", ...]`` for ``names`` of ``changes``."""
    lines = []
    for name in names:
        before, after = changes[name]
        label = str(FIELD_NAMES.get(name, field_name(name)))
        lines.append(f"{label}: {_value(name, before)} → {_value(name, after)}")
    return lines


def _order_update(event_: AuditEvent) -> list[TimelinePart]:
    changes = event_.changes or {}
    fields = sorted((n for n in changes if n != "placed_at"), key=_field_order)
    named = [n for n in fields if "total" not in changes or n not in PART_OF_THE_TOTAL]
    parts = []
    if fields:
        names = ", ".join(str(FIELD_NAMES.get(n, field_name(n))) for n in named)
        parts.append(
            TimelinePart(
                gettext("changed %(fields)s", fields=names), _diff(changes, fields), step=EDITED
            )
        )
    if "placed_at" in changes and changes["placed_at"][0] is None:
        parts.append(TimelinePart(str(PLACED)))
    return parts


def _describe(event_: AuditEvent) -> list[TimelinePart]:
    """What ``event_`` says, as parts of an entry (none: not part of the story)."""
    if event_.record_type == "order":
        if event_.action == audit.UPDATE:
            return _order_update(event_)
        verb = str(ORDER_VERBS.get(event_.action) or audit.action_label(event_.action))
        note = event_.note
        if note and event_.action in TRANSITION_NOTES:
            note = str(TRANSITION_NOTES[event_.action]) % {"note": note}
        return [
            TimelinePart(verb, note=note, step=TAKEN if event_.action == audit.CREATE else None)
        ]
    if event_.record_type == "order_line":
        verb = str(LINE_VERBS.get(event_.action) or audit.action_label(event_.action))
        text = f"{verb} {event_.record_label}" if event_.record_label else verb
        changes = event_.changes or {}
        diff = _diff(changes, sorted(changes)) if event_.action == audit.UPDATE else []
        return [TimelinePart(text, diff, step=LINE)]
    return []


TRANSITION_ACTIONS = frozenset(
    {audit.APPROVE, audit.REJECT, audit.SHIP, audit.DELIVER, audit.CANCEL}
)


def _kind(event_: AuditEvent) -> str:
    is_transition = event_.record_type == "order" and event_.action in TRANSITION_ACTIONS
    return TRANSITION if is_transition else CHANGE


def _from_trail(events: list[AuditEvent]) -> list[TimelineEntry]:
    """The order's events, oldest first, one entry per person and request (or commit)."""
    entries: list[TimelineEntry] = []
    for event_ in events:
        parts = _describe(event_)
        if not parts:
            continue
        last = entries[-1] if entries else None
        same_request = (
            last is not None
            and last.actor == event_.actor_email
            and (
                (event_.request_id is not None and last.request_id == event_.request_id)
                # Outside a request (seed, imports, commands): the same commit.
                or (event_.request_id is None and last.request_id is None and last.at == event_.at)
            )
        )
        if same_request and last is not None:
            if event_.record_type == "order":
                # The order's own change reads first, then its lines', whatever the
                # order in which the flush wrote them.
                position = next(
                    (i for i, part in enumerate(last.parts) if part.step == LINE),
                    len(last.parts),
                )
                last.parts[position:position] = parts
                if _kind(event_) == TRANSITION:
                    last.kind = TRANSITION
            else:
                last.parts.extend(parts)
        else:
            entries.append(
                TimelineEntry(
                    event_.at,
                    event_.actor_email,
                    parts,
                    event_.request_id,
                    kind=_kind(event_),
                )
            )
    return entries


# --- e-mails and notes --------------------------------------------------------------


def _delivery(message: OutboxMessage, state: str) -> str:
    """How ``message``'s delivery stands, in the reader's words and zone (unnamed, as
    the timeline's own times: the page's footer names it)."""
    if state == "sent" and message.sent_at is not None:
        return gettext("sent %(when)s", when=localtime.show(message.sent_at, zone_name=False))
    if state == "retrying":
        return gettext(
            "attempt %(attempt)s failed; next attempt %(when)s",
            attempt=message.attempts,
            when=localtime.show(message.next_attempt_at, zone_name=False),
        )
    if state == "failed":
        return ngettext(
            "gave up after %(num)d attempt; it can be resent",
            "gave up after %(num)d attempts; it can be resent",
            message.attempts,
        )
    if state == "sending":
        return gettext("being sent now")
    return gettext("waiting to be sent")


def _from_outbox(messages: list[OutboxMessage]) -> list[TimelineEntry]:
    entries = []
    for message in messages:
        state = notifications.delivery_state(message)
        entries.append(
            TimelineEntry(
                message.created_at,
                message.recipient,
                [TimelinePart(message.subject)],
                kind=EMAIL,
                state=state,
                delivery=_delivery(message, state),
                record_id=message.id,
            )
        )
    return entries


def _from_notes(notes: list[OrderNote]) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            note.created_at,
            note.author.email,
            [TimelinePart(gettext("added an internal note"))],
            kind=NOTE,
            body=note.body,
            record_id=note.id,
        )
        for note in notes
    ]


def _from_returns(found: list[Return]) -> list[TimelineEntry]:
    """Each return's steps, linking to the return (and, once refunded, its credit note)."""
    entries = []
    for return_ in found:
        page = (return_.title, url_for("order_return.details_view", id=return_.id))
        lines = ", ".join(f"{line.quantity} × {line.order_line.sku}" for line in return_.lines)
        recorded = gettext("recorded a return of %(lines)s", lines=lines)
        steps = [
            (return_.requested_at, return_.requested_by, recorded, [page]),
            (
                return_.received_at,
                return_.received_by,
                gettext("received the returned goods"),
                [page],
            ),
        ]
        reason = {recorded: return_.reason}
        if return_.refunded_at is not None:
            links = [page]
            if return_.credit_note is not None:
                links.append(
                    (
                        gettext("Credit note %(number)s", number=return_.credit_note.number),
                        url_for("order.credit_note_pdf", credit_note_id=return_.credit_note_id),
                    )
                )
            text = gettext("refunded %(amount)s", amount=format_money(return_.refund_total))
            steps.append((return_.refunded_at, return_.refunded_by, text, links))
        for at, who, text, step_links in steps:
            if at is None:
                continue
            entries.append(
                TimelineEntry(
                    at,
                    who.email if who is not None else gettext("(system)"),
                    [TimelinePart(text, note=reason.get(text))],
                    kind=TRANSITION,
                    links=step_links,
                )
            )
    return entries


def _anchor(emails: list[TimelineEntry], events: list[AuditEvent]) -> None:
    """Place each e-mail with the change that queued it, at that change's time.

    A service queues the e-mail inside the transaction of its change, and the trail
    stamps that change when the transaction commits, a moment later: the e-mail
    belongs with the first event recorded at or after it was queued, and exists for
    the dispatchers from that commit on.
    """
    times = [event_.at for event_ in events]
    for entry in emails:
        position = bisect.bisect_left(times, entry.at)
        if position < len(times):
            entry.at = times[position]


def order_timeline(order: Order) -> list[TimelineEntry]:
    """The order's story, oldest first: changes, transitions, e-mails and notes."""
    events = audit.events_of(db.session, "order", order.id)
    emails = _from_outbox(notifications.messages_of_order(db.session, order.id))
    _anchor(emails, sorted(events, key=lambda e: e.at))
    entries = [
        *_from_trail(events),
        *emails,
        *_from_notes(order_notes.notes_of(db.session, order.id)),
        *_from_returns(returns.returns_of(db.session, order.id)),
    ]
    # A stable sort: entries of the same instant keep the trail's order.
    return sorted(entries, key=TimelineEntry._key)


def changed_by(entries: list[TimelineEntry]) -> list[str]:
    """The people who changed the order after it was taken, in order of first change."""
    taker = next((e.actor for e in entries if any(p.step == TAKEN for p in e.parts)), None)
    people: list[str] = []
    for entry in entries:
        if entry.kind != CHANGE:
            continue
        edits = [part for part in entry.parts if part.step in (EDITED, LINE)]
        if edits and entry.actor != taker and entry.actor not in people:
            people.append(entry.actor)
    return people
