"""The managers' pending queue: orders waiting for a decision, oldest first.

After a manager approves or rejects an order from its page, the console takes them to
the next order of this queue, so the queue can be worked through without going back to
the list each time. "Next" follows the queue's own order (taken first, decided first:
``created_at`` then ``id``) from the order just decided, wrapping round to the oldest,
and skips the orders this person may not approve under the four-eyes rule: the console
would only show them a disabled Approve button there.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, exists, literal, or_, select, union_all
from sqlalchemy.orm import Session

from console.models import Order, OrderStatus, User
from console.models.orders import order_editor


def next_pending(
    session: Session, after: Order, person: User, *, backwards: bool = False
) -> Order | None:
    """The pending order after ``after`` in the queue for ``person`` (before it, when
    ``backwards``), wrapping round; None when no other order is left for ``person``."""
    conditions = [Order.status == OrderStatus.PENDING.value, Order.id != after.id]
    if current_app.config.get("ORDERS_FOUR_EYES", True):
        conditions += [
            or_(Order.created_by_id.is_(None), Order.created_by_id != person.id),
            ~exists().where(
                order_editor.c.order_id == Order.id, order_editor.c.user_id == person.id
            ),
        ]
    if backwards:
        beyond = [
            Order.created_at <= after.created_at,
            or_(
                Order.created_at < after.created_at,
                and_(Order.created_at == after.created_at, Order.id < after.id),
            ),
        ]
        in_queue_order = (Order.created_at.desc(), Order.id.desc())
    else:
        beyond = [
            Order.created_at >= after.created_at,
            or_(
                Order.created_at > after.created_at,
                and_(Order.created_at == after.created_at, Order.id > after.id),
            ),
        ]
        in_queue_order = (Order.created_at.asc(), Order.id.asc())

    def first(rank: int, *where: Any) -> Select:
        """The id of the queue's first order meeting ``where``, ranked ``rank``."""
        found = (
            select(Order.id)
            .where(*conditions, *where)
            .order_by(*in_queue_order)
            .limit(1)
            .subquery()
        )
        return select(found.c.id, literal(rank).label("rank"))

    # One query, each part read along the (status, created_at) index: the first order
    # beyond ``after``, else (wrapping round) the first of the queue. Sorting all the
    # pending orders by "beyond or not" read every one of them.
    candidates = union_all(first(0, *beyond), first(1)).subquery()
    return session.scalar(
        select(Order)
        .join(candidates, Order.id == candidates.c.id)
        .order_by(candidates.c.rank)
        .limit(1)
    )
