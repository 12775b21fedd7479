"""Figures for the dashboard, computed with aggregate SQL (never by loading rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.models import AuditEvent, Order, OrderStatus, Product, User
from console.models.base import utcnow

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


def sales_by_day(session: Session, days: int = 30, today: dt.date | None = None) -> list[DaySales]:
    """Orders taken and revenue sold per day over the last ``days`` days, gaps filled with 0.

    Orders count on the day they were taken; revenue counts the orders of that day that
    were approved and not rejected or cancelled.
    """
    today = today or utcnow().date()
    first = today - dt.timedelta(days=days - 1)
    # date() exists in both SQLite and PostgreSQL; CAST(... AS DATE) does not work in SQLite.
    day = func.date(Order.created_at)
    revenue = func.coalesce(
        func.sum(func.coalesce(Order.total, 0)).filter(Order.status.in_(SOLD)), 0
    )
    rows = session.execute(
        select(day.label("day"), func.count(), revenue)
        .where(Order.created_at >= dt.datetime.combine(first, dt.time.min))
        .group_by(day)
    ).all()
    found = {_as_date(r[0]): (r[1], Decimal(r[2])) for r in rows}
    return [
        DaySales(d, *found.get(d, (0, Decimal("0"))))
        for d in (first + dt.timedelta(days=i) for i in range(days))
    ]


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


def _as_date(value: object) -> dt.date:
    # SQLite returns the date as text, PostgreSQL as a date.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
