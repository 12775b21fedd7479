"""The order status machine: approve, reject, ship, deliver and cancel.

```
pending --approve--> approved --ship--> shipped --deliver--> delivered
pending --reject (reason required)--> rejected
pending|approved --cancel--> cancelled      (cancelling an approved order returns its stock)
```

Each transition takes the acting staff member, checks their permission and the rules,
and in one transaction changes the order, writes the stock movements and queues the
customer's e-mail in the outbox; then commits. A refusal rolls the transaction back and
raises ``DomainError`` with a reason a person can read: nothing changes, no e-mail.

Concurrency: the order row is read ``FOR UPDATE`` (PostgreSQL) and written first with
its version checked, so two people acting on one order cannot both succeed; on SQLite
that first write also takes the database's write lock for the rest of the transaction.
Stock is taken and given back by the stock ledger (``console.services.stock``): one
conditional ``UPDATE`` per line, in product order (no deadlock between two approvals),
so stock never drops below zero, and one movement per line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from console import audit
from console.models import Invoice, Order, OrderStatus, User
from console.models.base import utcnow, word_of
from console.permissions import ORDERS_APPROVE, ORDERS_CANCEL, ORDERS_FULFIL
from console.services import documents, stock
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.notifications import enqueue_order_email
from console.services.webhooks import enqueue_order_event

MAX_REASON_LENGTH = 2000
MAX_TRACKING_LENGTH = 100


@dataclass(frozen=True)
class Transition:
    """One arrow of the status machine."""

    name: str
    label: str
    sources: frozenset[str]
    target: OrderStatus
    permission: str


PENDING = OrderStatus.PENDING.value
APPROVED = OrderStatus.APPROVED.value
SHIPPED = OrderStatus.SHIPPED.value

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "approve", "Approve", frozenset({PENDING}), OrderStatus.APPROVED, ORDERS_APPROVE
        ),
        Transition("reject", "Reject", frozenset({PENDING}), OrderStatus.REJECTED, ORDERS_APPROVE),
        Transition("ship", "Ship", frozenset({APPROVED}), OrderStatus.SHIPPED, ORDERS_FULFIL),
        Transition(
            "deliver", "Mark delivered", frozenset({SHIPPED}), OrderStatus.DELIVERED, ORDERS_FULFIL
        ),
        Transition(
            "cancel", "Cancel", frozenset({PENDING, APPROVED}), OrderStatus.CANCELLED, ORDERS_CANCEL
        ),
    )
}


def _in_one_transaction(session: Session, change: Callable[[], Order]) -> Order:
    """Run ``change`` and commit; on any refusal or error roll everything back."""
    try:
        order = change()
        session.commit()
    except StaleDataError:
        session.rollback()
        raise DomainError(
            gettext(
                "Someone else changed this order at the same moment; nothing was changed. "
                "Reload the order and try again."
            )
        ) from None
    except BaseException:
        session.rollback()
        raise
    return order


def _load_for(
    session: Session,
    order: Order | int,
    actor: User,
    transition: Transition,
    expected_version: int | None = None,
) -> Order:
    """Check ``actor``'s permission, then reload ``order`` fresh and locked.

    ``expected_version`` is the version of the order the person was looking at: a
    decision taken on a page showing other lines or another customer is refused.
    """
    if actor is None or not actor.active or not actor.has_permission(transition.permission):
        raise DomainError(
            gettext(
                "Your role does not allow you to %(name)s orders (it needs the permission "
                "%(permission)s).",
                name=transition.name,
                permission=transition.permission,
            )
        )
    return _load(session, order, transition, expected_version)


def _load(
    session: Session,
    order: Order | int,
    transition: Transition,
    expected_version: int | None = None,
) -> Order:
    """Reload ``order`` fresh and locked; refuse it unless ``transition`` applies."""
    # An id no integer column can hold names no order (and must not reach the query).
    order_id = order.id if isinstance(order, Order) else row_id(order)
    # populate_existing: decide on the row as the database has it now, not on what
    # this session read earlier in the request.
    loaded = (
        None
        if order_id is None
        else session.get(Order, order_id, with_for_update=True, populate_existing=True)
    )
    if loaded is None:
        raise DomainError(gettext("This order does not exist (any more)."))
    if loaded.status not in transition.sources:
        words = [word_of(OrderStatus, source) for source in sorted(transition.sources)]
        allowed = words[0]
        for word in words[1:]:
            allowed = gettext("%(one)s or %(other)s", one=allowed, other=word)
        raise DomainError(
            gettext(
                "Order %(number)s is %(status)s; only %(allowed)s orders can be %(value)s.",
                number=loaded.number,
                status=word_of(OrderStatus, loaded.status),
                allowed=allowed,
                value=word_of(OrderStatus, transition.target),
            )
        )
    if transition.name in {"approve", "reject"} and loaded.placed_at is None:
        raise DomainError(
            gettext(
                'Order %(number)s is still being taken (its clerk saved it with "Save and '
                'Continue Editing"); it can be decided once the clerk places it with Save.',
                number=loaded.number,
            )
        )
    if expected_version is not None and loaded.version != expected_version:
        raise DomainError(
            gettext(
                "Order %(number)s was changed by someone else since you opened it; nothing was "
                "done. Check the order again, then repeat your action.",
                number=loaded.number,
            )
        )
    return loaded


def _write_order_first(session: Session) -> None:
    """Flush the order's UPDATE before touching stock.

    The UPDATE carries the version read above, so a concurrent change of the order
    fails here (``StaleDataError``); on SQLite it is the transaction's first write and
    so takes the write lock that serialises the rest of the transaction.
    """
    session.flush()


def _invoice_if_due(session: Session, order: Order, actor: User) -> Invoice | None:
    """Issue ``order``'s invoice when its new status is the one ``INVOICE_ON`` names,
    in this transaction: its number is taken and given back with the transition."""
    if not documents.invoice_due_on(order.status):
        return None
    return documents.issue_invoice(session, order, actor)


def four_eyes_refusal(order: Order, actor: User) -> str | None:
    """Why ``actor`` may not approve ``order`` under the four-eyes rule, or None.

    Whoever took the order, and whoever changed its customer, addresses, lines or
    total since (``Order.edited_by``), needs another person to approve it; otherwise a manager
    could rewrite a clerk's order and approve the result alone. With
    ``ORDERS_FOUR_EYES`` off nobody is refused here (editors are still recorded, so
    switching the rule back on applies it to orders changed meanwhile).
    """
    if not current_app.config.get("ORDERS_FOUR_EYES", True):
        return None
    if order.created_by_id is not None and order.created_by_id == actor.id:
        return (
            f"Order {order.number} was taken by you; under the four-eyes rule another "
            "manager must approve it."
        )
    if any(editor.id == actor.id for editor in order.edited_by):
        return (
            f"You changed order {order.number}'s customer, addresses, lines or total; "
            "under the four-eyes rule another manager must approve it."
        )
    return None


def approve(
    session: Session, order: Order | int, actor: User, *, expected_version: int | None = None
) -> Order:
    """Approve a pending order, reserving stock for all its lines or none."""
    transition = TRANSITIONS["approve"]

    def change() -> Order:
        loaded = _load_for(session, order, actor, transition, expected_version)
        refusal = four_eyes_refusal(loaded, actor)
        if refusal:
            raise DomainError(refusal)
        if not loaded.lines:
            raise DomainError(
                gettext(
                    "Order %(number)s has no lines; there is nothing to approve.",
                    number=loaded.number,
                )
            )
        loaded.status = transition.target.value
        loaded.decided_by = actor
        loaded.decided_at = utcnow()
        _write_order_first(session)
        short = stock.take_for_order(session, loaded, actor)
        if short:
            raise DomainError(
                gettext(
                    "Not enough stock to approve order %(number)s; nothing was reserved. Short: "
                    "%(join)s.",
                    number=loaded.number,
                    join="; ".join(short),
                )
            )
        reserved = ", ".join(f"{line.product.sku} × {line.quantity}" for line in loaded.lines)
        audit.record(session, actor, audit.APPROVE, loaded, note=f"Stock reserved: {reserved}")
        invoice = _invoice_if_due(session, loaded, actor)
        enqueue_order_email(session, loaded, "order_approved", attach=invoice)
        enqueue_order_event(session, loaded, "order.approved")
        return loaded

    return _in_one_transaction(session, change)


def reject(
    session: Session,
    order: Order | int,
    actor: User,
    reason: str | None,
    *,
    expected_version: int | None = None,
) -> Order:
    """Reject a pending order; the customer is told ``reason``."""
    transition = TRANSITIONS["reject"]
    reason = (reason or "").strip()

    def change() -> Order:
        loaded = _load_for(session, order, actor, transition, expected_version)
        if not reason:
            raise DomainError(
                gettext(
                    "Give the reason for rejecting order %(number)s; the customer reads it.",
                    number=loaded.number,
                )
            )
        if len(reason) > MAX_REASON_LENGTH:
            raise DomainError(
                gettext(
                    "The reason is too long (at most %(max_reason_length)s characters).",
                    max_reason_length=MAX_REASON_LENGTH,
                )
            )
        loaded.status = transition.target.value
        loaded.decided_by = actor
        loaded.decided_at = utcnow()
        loaded.rejection_reason = reason
        _write_order_first(session)
        audit.record(session, actor, audit.REJECT, loaded, note=reason)
        enqueue_order_email(session, loaded, "order_rejected")
        enqueue_order_event(session, loaded, "order.rejected")
        return loaded

    return _in_one_transaction(session, change)


def ship(
    session: Session,
    order: Order | int,
    actor: User,
    tracking: str | None,
    *,
    expected_version: int | None = None,
) -> Order:
    """Ship an approved order with the carrier's tracking number."""
    transition = TRANSITIONS["ship"]
    tracking = (tracking or "").strip()

    def change() -> Order:
        loaded = _load_for(session, order, actor, transition, expected_version)
        if not tracking:
            raise DomainError(
                gettext(
                    "Enter the tracking number of order %(number)s's parcel.", number=loaded.number
                )
            )
        if len(tracking) > MAX_TRACKING_LENGTH:
            raise DomainError(
                gettext(
                    "The tracking number is too long (at most %(max_tracking_length)s characters).",
                    max_tracking_length=MAX_TRACKING_LENGTH,
                )
            )
        loaded.status = transition.target.value
        loaded.tracking_number = tracking
        loaded.shipped_at = utcnow()
        _write_order_first(session)
        audit.record(session, actor, audit.SHIP, loaded, note=f"Tracking number {tracking}")
        invoice = _invoice_if_due(session, loaded, actor)
        enqueue_order_email(session, loaded, "order_shipped", attach=invoice)
        enqueue_order_event(session, loaded, "order.shipped")
        return loaded

    return _in_one_transaction(session, change)


def deliver(
    session: Session, order: Order | int, actor: User, *, expected_version: int | None = None
) -> Order:
    """Record that a shipped order reached the customer (no e-mail: they have it)."""
    transition = TRANSITIONS["deliver"]

    def change() -> Order:
        loaded = _load_for(session, order, actor, transition, expected_version)
        loaded.status = transition.target.value
        loaded.delivered_at = utcnow()
        _write_order_first(session)
        audit.record(session, actor, audit.DELIVER, loaded)
        enqueue_order_event(session, loaded, "order.delivered")
        return loaded

    return _in_one_transaction(session, change)


def cancel(
    session: Session, order: Order | int, actor: User, *, expected_version: int | None = None
) -> Order:
    """Cancel a pending or approved order; an approved order's stock is returned."""

    def change() -> Order:
        loaded = _load_for(session, order, actor, TRANSITIONS["cancel"], expected_version)
        return _cancel(session, loaded, actor, actor)

    return _in_one_transaction(session, change)


CUSTOMER_CANCEL = Transition(
    "cancel", "Cancel", frozenset({PENDING}), OrderStatus.CANCELLED, ORDERS_CANCEL
)
"""What a customer may do from their order page: cancel while the order is pending."""


def cancel_by_customer(session: Session, order: Order | int, email: str) -> Order:
    """Cancel a pending order at its customer's request (their order page).

    The same change as a staff member's cancel; the audit trail names the customer
    (``customer <email>``) as the actor. Only pending orders: once approved, stock is
    reserved and the shop decides.
    """

    def change() -> Order:
        loaded = _load(session, order, CUSTOMER_CANCEL)
        return _cancel(session, loaded, audit.Actor.customer(email), None)

    return _in_one_transaction(session, change)


def _cancel(session: Session, loaded: Order, actor: Any, staff: User | None) -> Order:
    """Cancel ``loaded`` (already checked) as ``actor``; stock moves are ``staff``'s."""
    was_approved = loaded.status == APPROVED
    loaded.status = OrderStatus.CANCELLED.value
    loaded.cancelled_at = utcnow()
    _write_order_first(session)
    if was_approved:
        assert staff is not None  # customers cancel pending orders only
        stock.release_for_order(session, loaded, staff)
    note = "Reserved stock returned" if was_approved else None
    audit.record(session, actor, audit.CANCEL, loaded, note=note)
    enqueue_order_email(session, loaded, "order_cancelled")
    enqueue_order_event(session, loaded, "order.cancelled")
    return loaded


def perform(session: Session, name: str, order: Order | int, actor: User, **values: Any) -> Order:
    """Run the transition called ``name`` (the console's buttons and bulk actions)."""
    version = values.get("expected_version")
    if name == "approve":
        return approve(session, order, actor, expected_version=version)
    if name == "reject":
        return reject(session, order, actor, values.get("reason"), expected_version=version)
    if name == "ship":
        return ship(session, order, actor, values.get("tracking"), expected_version=version)
    if name == "deliver":
        return deliver(session, order, actor, expected_version=version)
    if name == "cancel":
        return cancel(session, order, actor, expected_version=version)
    raise DomainError(gettext("There is no order action called %(name)s.", name=repr(name)))
