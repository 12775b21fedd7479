"""Products of the catalogue, with their price and stock on hand."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Numeric, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin

MONEY = Numeric(12, 2)


class Product(TimestampMixin, VersionedMixin, Model):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("sku <> ''", name="sku_not_empty"),
        # "sku-0001" and "SKU-0001" are the same product code: unique regardless of case.
        Index("uq_product_sku_lower", func.lower("sku"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    stock: Mapped[int] = mapped_column(default=0, server_default="0", index=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=true(), index=True)

    __audit__ = AuditSpec(
        "product", fields=("sku", "name", "description", "unit_price", "stock", "active")
    )

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"
