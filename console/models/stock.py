"""Stock movements: why a product's stock on hand changed.

Approving an order writes one negative movement per line (the reservation); cancelling
an approved order writes the matching positive movements. The sum of a product's
movements explains every change of its stock made by the order workflow.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import TimestampMixin

if TYPE_CHECKING:
    from console.models.orders import Order
    from console.models.products import Product
    from console.models.staff import User


class StockReason(enum.StrEnum):
    RESERVE = "reserve"
    """Stock taken by an approved order."""
    RELEASE = "release"
    """Stock returned by cancelling an approved order."""


_REASON_VALUES = ", ".join(f"'{r.value}'" for r in StockReason)


class StockMovement(TimestampMixin, Model):
    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint(f"reason IN ({_REASON_VALUES})", name="reason_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    """Signed change of the stock on hand: negative takes stock, positive returns it."""
    reason: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    product: Mapped[Product] = relationship()
    order: Mapped[Order | None] = relationship()
    actor: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.reason}"
