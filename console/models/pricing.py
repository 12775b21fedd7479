"""What prices an order besides its lines: tax rates, shipping methods, promotion codes.

All three are data that managers keep (``promotions.manage``); clerks use them on
orders. How they combine into an order's figures is ``console.services.pricing``.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, func, true
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin
from console.models.products import MONEY

PERCENT = Numeric(5, 2)
"""A percentage with two decimals, 0.00 to 100.00 (a tax rate, a discount)."""


class TaxRate(TimestampMixin, VersionedMixin, Model):
    """A tax rate products are sold at (``Standard`` 20 %, ``Reduced`` 5.5 %...).

    Order lines copy the rate (and its name) when they are added, so a later change
    of the rate or of a product's rate alters no order already taken.
    """

    __tablename__ = "tax_rate"
    __table_args__ = (
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_percent"),
        CheckConstraint("name <> ''", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    rate: Mapped[Decimal] = mapped_column(PERCENT)
    """Percent of the price before tax."""
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Inactive rates are no longer offered for products; products keep theirs."""

    __audit__ = AuditSpec("tax_rate", fields=("name", "rate", "active"))

    def __str__(self) -> str:
        return f"{self.name} ({self.rate:.2f} %)" if self.rate is not None else self.name or ""


class ShippingMethod(TimestampMixin, VersionedMixin, Model):
    """A way of delivering an order, with its charge (free from a subtotal, optionally)."""

    __tablename__ = "shipping_method"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("free_above IS NULL OR free_above >= 0", name="free_above_not_negative"),
        CheckConstraint("name <> ''", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    price: Mapped[Decimal] = mapped_column(MONEY)
    free_above: Mapped[Decimal | None] = mapped_column(MONEY)
    """Orders whose subtotal reaches this amount ship free; None: never free."""
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Only active methods are offered on new orders; orders keep theirs."""

    __audit__ = AuditSpec("shipping_method", fields=("name", "price", "free_above", "active"))

    def __str__(self) -> str:
        return self.name or ""


class PromotionKind(enum.StrEnum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"


_KINDS = ", ".join(f"'{kind.value}'" for kind in PromotionKind)


class Promotion(TimestampMixin, VersionedMixin, Model):
    """A promotion code a clerk types on an order: a percentage or a fixed amount off.

    ``times_used`` counts the orders holding the code; it is only ever changed by one
    conditional UPDATE (``console.services.promotions``), so that the last use of a
    code cannot be taken by two orders saved at the same moment.
    """

    __tablename__ = "promotion"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind_known"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("kind <> 'percentage' OR value <= 100", name="percentage_at_most_100"),
        CheckConstraint(
            "minimum_subtotal IS NULL OR minimum_subtotal >= 0", name="minimum_not_negative"
        ),
        CheckConstraint("usage_limit IS NULL OR usage_limit > 0", name="usage_limit_positive"),
        CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0",
            name="per_customer_limit_positive",
        ),
        CheckConstraint("times_used >= 0", name="times_used_not_negative"),
        CheckConstraint(
            "usage_limit IS NULL OR times_used <= usage_limit", name="times_used_within_limit"
        ),
        CheckConstraint("code <> ''", name="code_not_empty"),
        # "welcome10" and "WELCOME10" are the same code.
        Index("uq_promotion_code_lower", func.lower("code"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal] = mapped_column(MONEY)
    """Percent off the subtotal (``percentage``) or the amount off (``fixed``)."""
    valid_from: Mapped[dt.datetime | None] = mapped_column()
    """First moment (UTC) the code applies; None: from its creation."""
    valid_until: Mapped[dt.datetime | None] = mapped_column()
    """Last moment (UTC) the code applies; None: no end."""
    minimum_subtotal: Mapped[Decimal | None] = mapped_column(MONEY)
    usage_limit: Mapped[int | None] = mapped_column()
    """Orders that may hold the code in all; None: no limit."""
    per_customer_limit: Mapped[int | None] = mapped_column()
    """Orders of one customer that may hold the code; None: no limit."""
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    times_used: Mapped[int] = mapped_column(default=0, server_default="0")

    __audit__ = AuditSpec(
        "promotion",
        fields=(
            "code",
            "kind",
            "value",
            "valid_from",
            "valid_until",
            "minimum_subtotal",
            "usage_limit",
            "per_customer_limit",
            "active",
        ),
    )

    def __str__(self) -> str:
        return self.code or ""


class PromotionCustomerUse(Model):
    """How many orders of one customer hold one promotion code (its per-customer limit).

    A row per (code, customer) that has used the code, counted by the same kind of
    conditional UPDATE as ``Promotion.times_used``.
    """

    __tablename__ = "promotion_customer_use"
    __table_args__ = (CheckConstraint("times_used >= 0", name="times_used_not_negative"),)

    promotion_id: Mapped[int] = mapped_column(
        ForeignKey("promotion.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    times_used: Mapped[int] = mapped_column(default=0, server_default="0")
