"""An order's timeline: who took it, who changed it and who decided, from the audit trail.

Shown on the order's details and edit pages to everyone who may read the order. It
says who did what and when, naming the fields changed but not their values; the
values are in the audit trail (the History link, for people who may read it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from console import audit
from console.database import db
from console.models import AuditEvent, Order

ORDER_VERBS = {
    audit.CREATE: "took the order",
    audit.APPROVE: "approved",
    audit.REJECT: "rejected",
    audit.SHIP: "shipped",
    audit.DELIVER: "marked delivered",
    audit.CANCEL: "cancelled",
    audit.DELETE: "deleted the order",
}
LINE_VERBS = {
    audit.CREATE: "added line",
    audit.UPDATE: "changed line",
    audit.DELETE: "removed line",
}
LINE_PREFIXES = tuple(LINE_VERBS.values())
FIELD_NAMES = {"customer": "customer", "total": "total", "coupon_code": "coupon code"}
"""The fields a change names first, in this order; any other follows by name."""


def _field_order(name: str) -> tuple[int, str]:
    order = list(FIELD_NAMES)
    return (order.index(name), "") if name in order else (len(order), name)


@dataclass
class TimelineEntry:
    """What one person did to the order in one request."""

    at: dt.datetime
    actor: str
    what: list[str] = field(default_factory=list)
    request_id: str | None = None

    @property
    def when(self) -> str:
        return self.at.strftime("%Y-%m-%d %H:%M")

    @property
    def text(self) -> str:
        return "; ".join(self.what)


def _describe(event_: AuditEvent) -> str | None:
    if event_.record_type == "order":
        if event_.action == audit.UPDATE:
            fields = sorted(event_.changes or {}, key=_field_order)
            names = [FIELD_NAMES.get(n, n.replace("_", " ")) for n in fields]
            return f"changed {', '.join(names)}" if names else None
        return ORDER_VERBS.get(event_.action, event_.action.replace("_", " "))
    if event_.record_type == "order_line":
        verb = LINE_VERBS.get(event_.action, event_.action)
        return f"{verb} {event_.record_label}" if event_.record_label else verb
    return None


def order_timeline(order: Order) -> list[TimelineEntry]:
    """The order's events, oldest first, one entry per person and request."""
    entries: list[TimelineEntry] = []
    for event_ in audit.events_of(db.session, "order", order.id):
        what = _describe(event_)
        if what is None:
            continue
        last = entries[-1] if entries else None
        same_request = (
            last is not None
            and event_.request_id is not None
            and last.request_id == event_.request_id
            and last.actor == event_.actor_email
        )
        if same_request and last is not None:
            if event_.record_type == "order":
                # The order's own change reads first, then its lines', whatever the
                # order in which the flush wrote them.
                position = next(
                    (i for i, w in enumerate(last.what) if w.startswith(LINE_PREFIXES)),
                    len(last.what),
                )
                last.what.insert(position, what)
            else:
                last.what.append(what)
        else:
            entries.append(TimelineEntry(event_.at, event_.actor_email, [what], event_.request_id))
    return entries


def changed_by(entries: list[TimelineEntry]) -> list[str]:
    """The people who changed the order after it was taken, in order of first change."""
    taker = next((e.actor for e in entries if "took the order" in e.what), None)
    people: list[str] = []
    for entry in entries:
        edits = [w for w in entry.what if w.startswith(("changed", "added", "removed"))]
        if edits and entry.actor != taker and entry.actor not in people:
            people.append(entry.actor)
    return people
