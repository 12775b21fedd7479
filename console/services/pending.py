"""The managers' pending queue: orders waiting for a decision, oldest first.

After a manager approves or rejects an order from its page, the console takes them to
the next order of this queue, so the queue can be worked through without going back to
the list each time. "Next" follows the queue's own order (taken first, decided first:
``created_at`` then ``id``) from the order just decided, wrapping round to the oldest,
and skips the orders this person may not approve under the four-eyes rule: the console
would only show them a disabled Approve button there.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, case, exists, or_, select
from sqlalchemy.orm import Session

from console.models import Order, OrderStatus, User
from console.models.orders import order_editor


def next_pending(
    session: Session, after: Order, person: User, *, backwards: bool = False
) -> Order | None:
    """The pending order after ``after`` in the queue for ``person`` (before it, when
    ``backwards``), wrapping round; None when no other order is left for ``person``."""
    query = select(Order).where(Order.status == OrderStatus.PENDING.value, Order.id != after.id)
    if current_app.config.get("ORDERS_FOUR_EYES", True):
        query = query.where(
            or_(Order.created_by_id.is_(None), Order.created_by_id != person.id),
            ~exists().where(
                order_editor.c.order_id == Order.id, order_editor.c.user_id == person.id
            ),
        )
    if backwards:
        beyond = or_(
            Order.created_at < after.created_at,
            and_(Order.created_at == after.created_at, Order.id < after.id),
        )
        in_queue_order = (Order.created_at.desc(), Order.id.desc())
    else:
        beyond = or_(
            Order.created_at > after.created_at,
            and_(Order.created_at == after.created_at, Order.id > after.id),
        )
        in_queue_order = (Order.created_at.asc(), Order.id.asc())
    # One query: the orders beyond ``after`` first, then (wrapping round) the others.
    wrapped = case((beyond, 0), else_=1)
    return session.scalar(query.order_by(wrapped, *in_queue_order).limit(1))
