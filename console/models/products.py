"""Products of the catalogue, with their price and stock on hand."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    event,
    func,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin

if TYPE_CHECKING:
    from console.models.pricing import TaxRate

MONEY = Numeric(12, 2)


class Product(TimestampMixin, VersionedMixin, Model):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("sku <> ''", name="sku_not_empty"),
        # "sku-0001" and "SKU-0001" are the same product code: unique regardless of case.
        Index("uq_product_sku_lower", func.lower("sku"), unique=True),
        # The API's ``updated_since``, for clients that sync.
        Index("ix_product_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    stock: Mapped[int] = mapped_column(default=0, server_default="0", index=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=true(), index=True)
    tax_rate_id: Mapped[int] = mapped_column(
        ForeignKey("tax_rate.id", ondelete="RESTRICT"), index=True
    )
    """The rate the product is sold at; order lines copy it when they are added."""

    tax_rate: Mapped[TaxRate] = relationship()

    __audit__ = AuditSpec(
        "product",
        fields=("sku", "name", "description", "unit_price", "stock", "active"),
        references={"tax_rate_id": "tax_rate"},
    )

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


ZERO_RATE_NAME = "Zero"
"""The 0 % rate the pricing migration creates and gives every product it finds."""


@event.listens_for(Product, "before_insert")
def _default_tax_rate(_mapper: Any, connection: Any, product: Product) -> None:
    """A product saved without a tax rate (a script, an import) gets the zero rate.

    The product form always names a rate; this keeps code that predates tax rates
    working, and taxes nothing it did not tax before.
    """
    if product.tax_rate_id is None:
        product.tax_rate_id = zero_rate_id(connection)


def zero_rate_id(connection: Any) -> int | None:
    """The id of the zero rate a product saved without a tax rate gets (see above)."""
    from console.models.pricing import TaxRate

    return connection.scalar(
        select(TaxRate.id).where(TaxRate.rate == 0).order_by(TaxRate.id).limit(1)
    )
