"""Uses of promotion codes: taken and given back with conditional UPDATEs.

A code with a usage limit has a counter (``promotion.times_used``) and, per customer,
another (``promotion_customer_use.times_used``). A use is taken with one statement
that adds 1 only while the counter is below its limit, and the number of rows it
changed says whether the use was granted; two orders saved at the same moment for
the last use are serialised by the database on that row (PostgreSQL's row lock, SQLite's
write lock), and the second finds the counter at its limit. Both statements run in the
transaction that saves the order, so a refused or failed save gives the use back with
everything else.
"""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from console.database import rowcount
from console.models import Promotion, PromotionCustomerUse


def _uses(limit: int | None) -> str:
    return "once" if limit == 1 else f"{limit} times"


def claim(session: Session, promotion: Promotion, customer_id: int) -> str | None:
    """Take one use of ``promotion`` for ``customer_id``'s order; None when granted,
    else why not (the caller refuses the save and rolls back)."""
    taken = rowcount(
        session.execute(
            update(Promotion)
            .where(
                Promotion.id == promotion.id,
                or_(Promotion.usage_limit.is_(None), Promotion.times_used < Promotion.usage_limit),
            )
            .values(times_used=Promotion.times_used + 1)
            .execution_options(synchronize_session=False)
        )
    )
    if not taken:
        return (
            f"The code {promotion.code} has been used up: it could be used "
            f"{_uses(promotion.usage_limit)} in all, and another order has just taken "
            "its last use."
        )
    _ensure_customer_row(session, promotion.id, customer_id)
    per_customer = update(PromotionCustomerUse).where(
        PromotionCustomerUse.promotion_id == promotion.id,
        PromotionCustomerUse.customer_id == customer_id,
    )
    if promotion.per_customer_limit is not None:
        per_customer = per_customer.where(
            PromotionCustomerUse.times_used < promotion.per_customer_limit
        )
    granted = rowcount(
        session.execute(
            per_customer.values(times_used=PromotionCustomerUse.times_used + 1).execution_options(
                synchronize_session=False
            )
        )
    )
    if not granted:
        return (
            f"This customer has used the code {promotion.code} already "
            f"({_uses(promotion.per_customer_limit)} per customer)."
        )
    return None


def release(session: Session, promotion_id: int, customer_id: int | None) -> None:
    """Give back the use an order held of a code (its code was changed or removed)."""
    session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id, Promotion.times_used > 0)
        .values(times_used=Promotion.times_used - 1)
        .execution_options(synchronize_session=False)
    )
    if customer_id is None:
        return
    session.execute(
        update(PromotionCustomerUse)
        .where(
            PromotionCustomerUse.promotion_id == promotion_id,
            PromotionCustomerUse.customer_id == customer_id,
            PromotionCustomerUse.times_used > 0,
        )
        .values(times_used=PromotionCustomerUse.times_used - 1)
        .execution_options(synchronize_session=False)
    )


def _ensure_customer_row(session: Session, promotion_id: int, customer_id: int) -> None:
    """The customer's counter for the code, created at 0 unless it exists.

    ``INSERT ... ON CONFLICT DO NOTHING``: two first uses at the same moment create
    one row (PostgreSQL makes the second wait for the first's transaction).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(PromotionCustomerUse)
        .values(promotion_id=promotion_id, customer_id=customer_id, times_used=0)
        .on_conflict_do_nothing(index_elements=["promotion_id", "customer_id"])
    )
