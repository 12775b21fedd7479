"""Returns of shipped orders and their refunds (docs/returns.md).

```
requested --receive (each line: back to stock or written off)--> received --refund--> refunded
```

- ``request_return`` (``returns.manage``): a shipped or delivered order, at least one
  item, a reason; per order line never more than shipped minus what all the order's
  returns hold already.
- ``receive`` (``returns.manage``): each line back on the shelf (one "return
  restocked" movement in the stock ledger naming the return) or written off (no
  movement). The customer is e-mailed.
- ``refund`` (``orders.approve``): once per return. The most it can give back is
  what the customer paid for the returned units: each line's amount after its share
  of the order's discount, with its tax (``refund_quote``); plus, optionally,
  shipping up to what the order charged and no other return gave back. The amount
  for the goods can be lowered, never raised. Above ``REFUND_FOUR_EYES_ABOVE`` the
  person who received the goods cannot approve their refund. It issues the credit
  note (``documents.issue_credit_note``) and e-mails it to the customer.

Each step is one transaction: it writes the return, the stock movements, the audit
event, the customer's e-mail and the webhook event (``return.requested``,
``return.received``, ``refund.issued``) together, or nothing, and raises
``DomainError`` with a readable message on bad input.

Partial returns. The units of a line are refunded at their share of what the line
cost, telescoped: the first ``n`` units refunded of a line of ``Q`` cost
``cents(paid × n / Q)``, so however a line comes back in parts, its refunds add up
to at most what was paid, and to exactly that once every unit came back (tax alike).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config import N_
from console import audit
from console.database import rowcount
from console.i18n import format_money
from console.models import Order, OrderLine, OrderStatus, Return, ReturnLine, User
from console.models.base import utcnow, word_of
from console.models.returns import ReturnOutcome, ReturnState
from console.permissions import ORDERS_APPROVE, RETURNS_MANAGE
from console.services import documents, stock
from console.services.documents import CreditLine
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.notifications import enqueue_order_email
from console.services.pricing import (
    ZERO,
    PricingRules,
    added_tax,
    allocate,
    cents,
    included_tax,
    money_text,
)
from console.services.webhooks import enqueue_order_event

MAX_REASON_LENGTH = 2000
RETURNABLE = frozenset({OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value})
"""Statuses of orders whose goods the customer has, so that they can send them back."""

T = TypeVar("T")


@dataclass(frozen=True)
class RequestedLine:
    """Units of one order line the customer sends back."""

    order_line_id: int
    quantity: int


# --- reading ----------------------------------------------------------------------------


def returns_of(session: Session, order_id: int) -> list[Return]:
    """The order's returns, oldest first."""
    return list(
        session.scalars(select(Return).where(Return.order_id == order_id).order_by(Return.id))
    )


def _returned_units(
    session: Session, order_id: int, *, states: Sequence[str] | None = None, exclude: int = 0
) -> dict[int, int]:
    """Order line id -> units in the order's returns (of ``states``; not ``exclude``)."""
    query = (
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id, Return.id != exclude)
        .group_by(ReturnLine.order_line_id)
    )
    if states is not None:
        query = query.where(Return.state.in_(states))
    return {line_id: int(units) for line_id, units in session.execute(query)}


def returnable_units(session: Session, order: Order) -> dict[int, int]:
    """Order line id -> units that may still be returned (shipped minus returned)."""
    returned = _returned_units(session, order.id)
    return {line.id: line.quantity - returned.get(line.id, 0) for line in order.lines}


# --- what a refund may give back -------------------------------------------------------


@dataclass(frozen=True)
class LinePaid:
    """What the customer paid for an order line, in the order's terms and with tax."""

    amount: Decimal
    """After its share of the discount; with tax included when the order's prices are."""
    tax: Decimal


def paid_per_line(order: Order) -> dict[int, LinePaid]:
    """Order line id -> what was paid for it, computed as the pricing rules priced the
    order (``console.services.pricing.quote``): the discount spread over the lines in
    proportion to their totals, then tax per line at its rate, rounded half-up."""
    lines = list(order.lines)
    shares = allocate(order.discount_total, [line.line_total for line in lines])
    paid = {}
    for line, share in zip(lines, shares, strict=True):
        amount = line.line_total - share
        tax = (
            included_tax(amount, line.tax_rate)
            if order.prices_include_tax
            else added_tax(amount, line.tax_rate)
        )
        paid[line.id] = LinePaid(amount, tax)
    return paid


@dataclass(frozen=True)
class RefundLine:
    """The most a refund gives back for one line of a return."""

    return_line: ReturnLine
    amount: Decimal
    """In the order's terms (as ``CreditLine.amount``)."""
    tax: Decimal
    gross: Decimal
    """What the customer gets back for these units: amount, with tax."""


@dataclass(frozen=True)
class RefundQuote:
    """The most a return's refund may give back."""

    lines: tuple[RefundLine, ...]
    goods: Decimal
    """The returned units, with tax (the most the goods amount may be)."""
    shipping: Decimal
    """Shipping the order charged and no other refund gave back, in the order's terms."""
    shipping_tax_rate: Decimal
    prices_include_tax: bool

    def shipping_gross(self, shipping: Decimal) -> Decimal:
        """``shipping`` (order's terms) as the customer gets it back, with tax."""
        if self.prices_include_tax:
            return shipping
        return shipping + added_tax(shipping, self.shipping_tax_rate)

    @property
    def most(self) -> Decimal:
        """Goods and all the shipping left: the largest refund possible."""
        return self.goods + self.shipping_gross(self.shipping)


def _share(total: Decimal, units: int, of: int) -> Decimal:
    """What the first ``units`` of ``of`` units cost, of ``total`` (cents, half-up)."""
    return cents(total * units / of) if of else ZERO


def refund_quote(session: Session, return_: Return) -> RefundQuote:
    """The most ``return_``'s refund may give back, line by line."""
    order = return_.order
    paid = paid_per_line(order)
    earlier = _returned_units(
        session, order.id, states=[ReturnState.REFUNDED.value], exclude=return_.id
    )
    lines = []
    for returned in return_.lines:
        line = returned.order_line
        line_paid = paid[line.id]
        before = earlier.get(line.id, 0)
        after = before + returned.quantity
        amount = _share(line_paid.amount, after, line.quantity) - _share(
            line_paid.amount, before, line.quantity
        )
        tax = _share(line_paid.tax, after, line.quantity) - _share(
            line_paid.tax, before, line.quantity
        )
        gross = amount if order.prices_include_tax else amount + tax
        lines.append(RefundLine(returned, amount, tax, gross))
    shipped_back = session.scalar(
        select(func.coalesce(func.sum(Return.refund_shipping), 0)).where(
            Return.order_id == order.id, Return.id != return_.id
        )
    )
    rules = PricingRules.from_config(current_app.config)
    return RefundQuote(
        lines=tuple(lines),
        goods=sum((line.gross for line in lines), ZERO),
        shipping=max(order.shipping_total - cents(Decimal(shipped_back or 0)), ZERO),
        shipping_tax_rate=rules.shipping_rate_of(order.shipping_tax_rate),
        prices_include_tax=order.prices_include_tax,
    )


def _lowered(quote: RefundQuote, goods: Decimal) -> list[CreditLine]:
    """Credit lines giving back ``goods`` (at most ``quote.goods``) with tax, spread
    over the lines in proportion to what each may give back."""
    if goods == quote.goods:
        parts = [line.gross for line in quote.lines]
    else:
        parts = allocate(goods, [line.gross for line in quote.lines])
    credit = []
    for line, gross in zip(quote.lines, parts, strict=True):
        tax = cents(line.tax * gross / line.gross) if line.gross else ZERO
        amount = gross if quote.prices_include_tax else gross - tax
        credit.append(
            CreditLine(line.return_line.order_line_id, line.return_line.quantity, amount, tax)
        )
    return credit


# --- steps ------------------------------------------------------------------------------


def _require(actor: User, permission: str, doing: str) -> None:
    if actor is None or not actor.active or not actor.has_permission(permission):
        raise DomainError(
            gettext(
                "Your role does not allow you to %(doing)s (it needs the permission "
                "%(permission)s).",
                doing=gettext(doing),
                permission=permission,
            )
        )


def _reason(reason: str | None) -> str:
    cleaned = (reason or "").strip()
    if not cleaned:
        raise DomainError(gettext("Give the reason for the return; the credit note prints it."))
    if len(cleaned) > MAX_REASON_LENGTH:
        raise DomainError(
            gettext("The reason is too long (at most %(most)s characters).", most=MAX_REASON_LENGTH)
        )
    return cleaned


def _in_one_transaction(session: Session, change: Callable[[], T]) -> T:
    """Run ``change`` and commit; on any refusal or error roll everything back."""
    try:
        result = change()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _return_data(return_: Return) -> dict[str, Any]:
    """The return as webhook events carry it (money as text with two decimals)."""
    note = return_.credit_note
    return {
        "id": return_.id,
        "state": return_.state,
        "reason": return_.reason,
        "lines": [
            {
                "sku": line.order_line.sku,
                "quantity": line.quantity,
                "outcome": line.outcome,
            }
            for line in return_.lines
        ],
        "refund_total": None if return_.refund_total is None else f"{return_.refund_total:.2f}",
        "refund_shipping": (
            None if return_.refund_shipping is None else f"{return_.refund_shipping:.2f}"
        ),
        "credit_note": note.number if note is not None else None,
    }


def _tell(session: Session, return_: Return, event: str, template: str | None = None) -> None:
    """Queue the customer's e-mail (``template``) and the webhook ``event``."""
    if template is not None:
        enqueue_order_email(
            session,
            return_.order,
            template,
            attach=return_.credit_note,
            context={"return_": return_},
        )
    enqueue_order_event(session, return_.order, event, {"return": _return_data(return_)})


def _load_order(session: Session, order: Order | int) -> Order:
    """The order fresh, its row written first so that two returns of one order are
    decided one after the other (a row lock on PostgreSQL, the write lock on SQLite)."""
    order_id = order.id if isinstance(order, Order) else row_id(order)
    if order_id is None or session.get(Order, order_id) is None:
        raise DomainError(gettext("This order does not exist (any more)."))
    session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    loaded = session.get(Order, order_id, populate_existing=True)
    assert loaded is not None
    return loaded


def request_return(
    session: Session,
    order: Order | int,
    actor: User,
    lines: Sequence[RequestedLine],
    reason: str | None,
) -> Return:
    """Record a return of ``lines`` of a shipped or delivered order."""
    _require(actor, RETURNS_MANAGE, N_("record returns"))

    def change() -> Return:
        loaded = _load_order(session, order)
        if loaded.status not in RETURNABLE:
            raise DomainError(
                gettext(
                    "Order %(number)s is %(status)s; only shipped or delivered orders can be"
                    " returned.",
                    number=loaded.number,
                    status=word_of(OrderStatus, loaded.status),
                )
            )
        cleaned = _reason(reason)
        by_id = {line.id: line for line in loaded.lines}
        left = returnable_units(session, loaded)
        wanted: dict[int, int] = {}
        problems = []
        for requested in lines:
            line = by_id.get(requested.order_line_id)
            if line is None:
                problems.append(
                    gettext(
                        "Order %(number)s has no line %(line)s.",
                        number=loaded.number,
                        line=requested.order_line_id,
                    )
                )
                continue
            if requested.order_line_id in wanted:
                problems.append(
                    gettext("%(sku)s is listed twice; give each line once.", sku=line.sku)
                )
                continue
            if requested.quantity < 0:
                problems.append(gettext("%(sku)s: a quantity cannot be below zero.", sku=line.sku))
            elif requested.quantity > left[line.id]:
                problems.append(
                    gettext(
                        "%(sku)s: %(returned)s returned, but only %(left)s of the %(shipped)s"
                        " shipped can still be returned.",
                        sku=line.sku,
                        returned=requested.quantity,
                        left=left[line.id],
                        shipped=line.quantity,
                    )
                )
            wanted[line.id] = requested.quantity
        if problems:
            raise DomainError(" ".join([gettext("Nothing was recorded."), *problems]))
        if not any(wanted.values()):
            raise DomainError(
                gettext("A return needs at least one item: give a quantity above zero.")
            )
        return_ = Return(
            order=loaded,
            state=ReturnState.REQUESTED.value,
            reason=cleaned,
            requested_by=actor,
            requested_at=utcnow(),
            lines=[
                ReturnLine(order_line=by_id[line_id], quantity=quantity)
                for line_id, quantity in wanted.items()
                if quantity
            ],
        )
        summary = ", ".join(f"{line.order_line.sku} × {line.quantity}" for line in return_.lines)
        with audit.acting(session, actor):
            session.add(return_)
            session.flush()
        audit.record(session, actor, audit.REQUEST_RETURN, return_, note=summary)
        _tell(session, return_, "return.requested")
        return return_

    return _in_one_transaction(session, change)


def _load_return(session: Session, return_: Return | int) -> Return:
    return_id = return_.id if isinstance(return_, Return) else row_id(return_)
    loaded = None if return_id is None else session.get(Return, return_id, populate_existing=True)
    if loaded is None:
        raise DomainError(gettext("This return does not exist (any more)."))
    return loaded


def _advance(session: Session, return_: Return, source: ReturnState, target: ReturnState) -> None:
    """Move ``return_`` from ``source`` to ``target`` with one conditional UPDATE, so
    that of two people acting at the same moment only one succeeds."""
    moved = session.execute(
        update(Return)
        .where(Return.id == return_.id, Return.state == source.value)
        .values(state=target.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) != 1:
        current = session.scalar(select(Return.state).where(Return.id == return_.id))
        raise DomainError(
            gettext(
                "%(label)s is %(current)s; only a %(source)s return can be %(target)s."
                " Nothing was changed.",
                label=return_.title,
                current=word_of(ReturnState, current),
                source=word_of(ReturnState, source),
                target=word_of(ReturnState, target),
            )
        )
    session.expire(return_, ["state", "updated_at"])


_OUTCOME_NOTES = {ReturnOutcome.RESTOCK: "back to stock", ReturnOutcome.WRITE_OFF: "written off"}
"""A line's outcome in the audit trail's note, in English as every note is (pages show
``ReturnOutcome.label``, in the reader's language)."""


def receive(
    session: Session, return_: Return | int, actor: User, outcomes: Mapping[int, str]
) -> Return:
    """Record the goods of a requested return as arrived: ``outcomes`` gives, per return
    line id, ``restock`` (back on the shelf) or ``write_off``."""
    _require(actor, RETURNS_MANAGE, N_("receive returns"))

    def change() -> Return:
        loaded = _load_return(session, return_)
        problems = []
        chosen: dict[int, ReturnOutcome] = {}
        for line in loaded.lines:
            try:
                chosen[line.id] = ReturnOutcome(outcomes.get(line.id, ""))
            except ValueError:
                problems.append(
                    gettext(
                        "%(sku)s: choose back to stock or written off.", sku=line.order_line.sku
                    )
                )
        if problems:
            raise DomainError(" ".join([gettext("Nothing was recorded."), *problems]))
        _advance(session, loaded, ReturnState.REQUESTED, ReturnState.RECEIVED)
        with audit.acting(session, actor):
            for line in loaded.lines:
                line.outcome = chosen[line.id].value
            loaded.received_by = actor
            loaded.received_at = utcnow()
            session.flush()
        restocked = [
            (line.order_line.product_id, line.quantity)
            for line in loaded.lines
            if line.outcome == ReturnOutcome.RESTOCK.value
        ]
        stock.restock_return(session, loaded, restocked, actor)
        summary = ", ".join(
            f"{line.order_line.sku} × {line.quantity}: {_OUTCOME_NOTES[chosen[line.id]]}"
            for line in loaded.lines
        )
        audit.record(session, actor, audit.RECEIVE_RETURN, loaded, note=summary)
        _tell(session, loaded, "return.received", "return_received")
        return loaded

    return _in_one_transaction(session, change)


def four_eyes_refusal(return_: Return, actor: User, total: Decimal) -> str | None:
    """Why ``actor`` may not approve a refund of ``total`` for ``return_``, or None."""
    limit = Decimal(current_app.config.get("REFUND_FOUR_EYES_ABOVE", Decimal("100.00")))
    if total > limit and return_.received_by_id == actor.id:
        return gettext(
            "You received %(label)s; a refund above %(limit)s must be approved by someone"
            " else (four-eyes rule).",
            label=return_.title,
            limit=format_money(limit),
        )
    return None


def refund(
    session: Session,
    return_: Return | int,
    actor: User,
    *,
    amount: Decimal | str | None = None,
    shipping: Decimal | str | None = None,
) -> Return:
    """Refund a received return and issue its credit note.

    ``amount``: what to give back for the goods, with tax (None: the most,
    ``refund_quote(...).goods``); ``shipping``: shipping to give back, as the order's
    shipping line shows it (None: none).
    """
    _require(actor, ORDERS_APPROVE, N_("approve refunds"))

    def change() -> Return:
        loaded = _load_return(session, return_)
        if loaded.state == ReturnState.REFUNDED.value:
            raise DomainError(
                gettext(
                    "%(label)s was refunded already; a return is refunded once.",
                    label=loaded.title,
                )
            )
        if loaded.state != ReturnState.RECEIVED.value:
            raise DomainError(
                gettext(
                    "%(label)s is %(state)s; record its goods as received first.",
                    label=loaded.title,
                    state=word_of(ReturnState, loaded.state),
                )
            )
        quote = refund_quote(session, loaded)
        goods = (
            quote.goods if amount in (None, "") else documents.parse_amount(amount, "The refund")
        )
        if goods > quote.goods:
            raise DomainError(
                gettext(
                    "%(amount)s is more than was paid for the returned items (%(most)s);"
                    " a refund can be lowered, never raised.",
                    amount=format_money(goods),
                    most=format_money(quote.goods),
                )
            )
        shipped_back = (
            ZERO
            if shipping in (None, "")
            else documents.parse_amount(shipping, "The shipping refund")
        )
        if shipped_back > quote.shipping:
            raise DomainError(
                gettext(
                    "%(amount)s of shipping is more than the %(most)s the order charged and"
                    " no refund gave back yet.",
                    amount=format_money(shipped_back),
                    most=format_money(quote.shipping),
                )
            )
        if not goods and not shipped_back:
            raise DomainError(gettext("A refund of nothing: give an amount above zero."))
        _advance(session, loaded, ReturnState.RECEIVED, ReturnState.REFUNDED)
        note = documents.issue_credit_note(
            session,
            loaded.order,
            actor,
            [line for line in _lowered(quote, goods) if line.amount or line.tax],
            shipping=shipped_back,
            reason=f"{loaded.label}: {loaded.reason}",
        )
        refusal = four_eyes_refusal(loaded, actor, note.total)
        if refusal:
            raise DomainError(refusal)
        with audit.acting(session, actor):
            loaded.refunded_by = actor
            loaded.refunded_at = utcnow()
            loaded.refund_shipping = shipped_back
            loaded.refund_total = note.total
            loaded.credit_note = note
            session.flush()
        audit.record(
            session,
            actor,
            audit.REFUND,
            loaded,
            note=f"{money_text(note.total)} refunded, credit note {note.number}",
        )
        _tell(session, loaded, "refund.issued", "return_refunded")
        return loaded

    return _in_one_transaction(session, change)


def lines_of(session: Session, order: Order) -> list[tuple[OrderLine, int]]:
    """The order's lines with the units each may still be returned (for the form)."""
    left = returnable_units(session, order)
    return [(line, left[line.id]) for line in order.lines]
