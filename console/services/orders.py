"""Order rules: lines, prices and totals, computed on the server.

``prepare_order`` is called inside the transaction that saves an order (from the
console's order form or from the seed), before it is committed.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from decimal import Decimal

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, inspect, or_, select
from sqlalchemy.orm import Session

from console.models import Customer, Order, OrderLine, OrderStatus, User
from console.models.addresses import ORDER_ADDRESS_COLUMNS
from console.models.base import utcnow
from console.permissions import ORDERS_WRITE
from console.services.addresses import fill_missing_addresses
from console.services.errors import DomainError
from console.services.notifications import enqueue_order_email

CENT = Decimal("0.01")


def order_number(order_id: int) -> str:
    """The human-readable number of an order, derived from its id."""
    return f"SO-{order_id:06d}"


def compute_total(lines: list[OrderLine]) -> Decimal:
    """The order total: the sum of quantity × unit price of its lines."""
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    return Decimal(total).quantize(CENT)


def _line_is_new_or_changed_product(line: OrderLine) -> bool:
    state = inspect(line)
    if state.transient or state.pending:
        return True
    return state.attrs.product.history.has_changes()


def _content_changed(session: Session, order: Order) -> bool:
    """True when this save changes ``order``'s customer, addresses, lines or total.

    Read from the attributes' history before the flush: a value set back to what it
    was counts as no change, a coupon code alone does not change what is approved.
    """
    state = inspect(order)
    for name in ("customer", "customer_id", "total", *ORDER_ADDRESS_COLUMNS):
        if state.attrs[name].history.has_changes():
            return True
    history = state.attrs.lines.history
    if history.added or history.deleted:
        return True
    for line in order.lines:
        if line in session.deleted:
            return True
        line_state = inspect(line)
        if line_state.transient or line_state.pending:
            return True
        if any(
            line_state.attrs[name].history.has_changes()
            for name in ("product", "product_id", "quantity")
        ):
            return True
    return False


def note_editor(order: Order, actor: User) -> None:
    """Remember that ``actor`` changed ``order`` after it was taken (four-eyes rule)."""
    if actor.id != order.created_by_id and actor not in order.edited_by:
        order.edited_by.append(actor)


def prepare_order(
    session: Session, order: Order, actor: User | None, *, created: bool, place: bool = True
) -> None:
    """Check an order's lines and set its prices, total, number and author.

    Unit prices are copied from the product when a line is added (or its product is
    changed), so later catalogue changes do not alter an order already taken. Only
    active products can be put on a line; a line kept from before its product was
    retired still saves. Raises
    ``DomainError`` when the order cannot be saved; the caller rolls back.

    ``place`` says the person has finished taking the order: the first save that places
    it sets ``placed_at`` and queues the "order received" e-mail, with the lines and
    total as placed, in the same transaction. A save with ``place=False`` ("Save and
    Continue Editing") keeps a draft and tells the customer nothing; later saves of a
    placed order send nothing again. ``actor`` None is the system itself (seed, imports).
    """
    with session.no_autoflush:
        if actor is not None and not actor.has_permission(ORDERS_WRITE):
            raise DomainError("Your role does not allow taking or changing orders.")
        if not created and order.status != OrderStatus.PENDING:
            raise DomainError(
                f"Order {order.number} is {order.status}: its customer and lines can only "
                "be changed while it is pending."
            )
        if order.customer is None:
            raise DomainError("Choose the customer this order is for.")
        # Lines removed in the form are marked for deletion but stay in the collection
        # until the flush; they neither count nor add to the total.
        lines = [line for line in order.lines if line not in session.deleted]
        if not lines:
            raise DomainError("An order needs at least one line: add a product and a quantity.")
        for line in lines:
            if line.product is None:
                raise DomainError("Each line needs a product.")
            if line.quantity is None or line.quantity <= 0:
                raise DomainError(
                    f"The quantity of {line.product.sku} must be a whole number above zero."
                )
        retired = sorted(
            line.product.sku
            for line in lines
            if not line.product.active and _line_is_new_or_changed_product(line)
        )
        if retired:
            raise DomainError(
                "No longer sold (the product is inactive), so it cannot be added to an "
                f"order: {', '.join(retired)}. Choose an active product."
            )
        repeated = [sku for sku, n in Counter(line.product.sku for line in lines).items() if n > 1]
        if repeated:
            raise DomainError(
                "Each product may appear on one line only; change the quantity instead of "
                f"adding it again: {', '.join(sorted(repeated))}."
            )
        for line in lines:
            if line.unit_price is None or _line_is_new_or_changed_product(line):
                line.unit_price = line.product.unit_price
        # No address chosen: the customer's defaults (copied, so later edits of the
        # address book leave the order as it was taken).
        fill_missing_addresses(order)
        order.total = compute_total(lines)
        if not created and actor is not None and _content_changed(session, order):
            note_editor(order, actor)
        if created:
            order.status = OrderStatus.PENDING.value
            order.created_by = actor
            # The number derives from the id, which exists only after the INSERT.
            order.number = f"new-{uuid.uuid4().hex[:28]}"
    if created:
        session.flush()
        order.number = order_number(order.id)
    if place and order.placed_at is None:
        order.placed_at = utcnow()
        # The e-mail shows the order as stored: lines removed in this save are gone
        # only once flushed.
        session.flush()
        session.expire(order, ["lines"])
        enqueue_order_email(session, order, "order_received")


def search_condition(term: str) -> ColumnElement[bool]:
    """How one search term finds orders, always through an index.

    - an e-mail address: the orders of the customer with exactly that address;
    - something shaped like an order number (``SO-000042``, ``DEMO-0007``, ``42``):
      that number, or the numbers that start with it;
    - anything else: the orders of customers whose last name, first name or e-mail
      starts with the term.

    A substring match (``ILIKE '%term%'``) over a million orders reads every row; these
    prefix and exact matches read only the index entries that match.
    """
    term = term.strip()
    if "@" in term:
        ids = select(Customer.id).where(Customer.email == term.lower())
        return Order.customer_id.in_(ids)
    if _ORDER_NUMBER.match(term):
        number = term.upper()
        if number.isdigit():
            number = order_number(int(number)) if len(number) <= 9 else number
        return or_(Order.number == number, _starts_with(Order.number, number))
    pattern = f"{_escape_like(term)}%"
    ids = select(Customer.id).where(
        or_(
            Customer.last_name.ilike(pattern, escape="\\"),
            Customer.first_name.ilike(pattern, escape="\\"),
            Customer.email.ilike(pattern, escape="\\"),
        )
    )
    return Order.customer_id.in_(ids)


_ORDER_NUMBER = re.compile(r"^([A-Za-z]{1,6}-)?\d+$|^[A-Za-z]{1,6}-\d*$")


def _starts_with(column: SQLColumnExpression[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range that a B-tree index answers."""
    return and_(column >= prefix, column < prefix + "\uffff")


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
