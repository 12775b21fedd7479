"""Figures for the dashboard, computed with aggregate SQL (never by loading rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from console.models import AuditEvent, Order, OrderStatus, Product, User

# Orders that count as sales: accepted and not undone.
SOLD = (OrderStatus.APPROVED.value, OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value)


@dataclass(frozen=True)
class PendingSummary:
    count: int
    oldest_created_at: dt.datetime | None

    def oldest_age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.oldest_created_at is None else now - self.oldest_created_at


@dataclass(frozen=True)
class DaySales:
    day: dt.date
    orders: int
    revenue: Decimal


def pending_summary(session: Session) -> PendingSummary:
    """How many orders wait for approval, and since when the oldest."""
    count, oldest = session.execute(
        select(func.count(), func.min(Order.created_at)).where(
            Order.status == OrderStatus.PENDING.value
        )
    ).one()
    return PendingSummary(count=count, oldest_created_at=oldest)


def sales_by_day(
    session: Session,
    days: int = 30,
    today: dt.date | None = None,
    zone: dt.tzinfo = dt.UTC,
) -> list[DaySales]:
    """Orders taken and revenue sold per day over the last ``days`` days, gaps filled with 0.

    Days are calendar days in ``zone`` (the person's), ``today`` being the last: an order
    taken at 23:30 UTC counts on the next day in Berlin. Orders count on the day they
    were taken; revenue counts the orders of that day that were approved and not
    rejected or cancelled. The database buckets the orders between the days' midnights
    (computed here, with the zone's daylight-saving changes): the same SQL on SQLite and
    PostgreSQL, whatever zone support each has.
    """
    today = today or dt.datetime.now(zone).date()
    first = today - dt.timedelta(days=days - 1)
    dates = [first + dt.timedelta(days=i) for i in range(days + 1)]
    midnights = [
        dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)
        for d in dates
    ]
    bucket = case(
        *((Order.created_at < end, index) for index, end in enumerate(midnights[1:-1])),
        else_=days - 1,
    )
    revenue = func.coalesce(
        func.sum(func.coalesce(Order.total, 0)).filter(Order.status.in_(SOLD)), 0
    )
    rows = session.execute(
        select(bucket.label("day"), func.count(), revenue)
        .where(Order.created_at >= midnights[0], Order.created_at < midnights[-1])
        .group_by(bucket)
    ).all()
    found = {int(r[0]): (r[1], Decimal(r[2])) for r in rows}
    return [DaySales(dates[i], *found.get(i, (0, Decimal("0")))) for i in range(days)]


def low_stock(session: Session, threshold: int, limit: int = 10) -> list[Product]:
    """Active products at or below ``threshold`` units, fewest first."""
    return list(
        session.scalars(
            select(Product)
            .where(Product.active.is_(True), Product.stock <= threshold)
            .order_by(Product.stock, Product.sku)
            .limit(limit)
        )
    )


def recent_orders_of(session: Session, user: User, limit: int = 8) -> list[Order]:
    """The orders ``user`` took most recently."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.created_by_id == user.id)
            .order_by(Order.created_at.desc())
            .limit(limit)
        )
    )


def recent_activity_of(session: Session, user: User, limit: int = 8) -> list[AuditEvent]:
    """What ``user`` did most recently, from the audit trail (sign-ins left out)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.actor_id == user.id,
                AuditEvent.action.not_in(("login", "logout", "login_failed")),
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
