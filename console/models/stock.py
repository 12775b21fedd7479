"""Stock movements: the ledger of every change of a product's stock.

``Product.stock`` is the quantity free to sell; every change of it is one row here,
written by ``console.services.stock`` in the transaction of the change, so that for
every product ``Product.stock`` equals the sum of its movements (``flask stock verify``
checks it). What the numbers mean is told in ``console.services.stock`` and docs/stock.md.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from flask_babel import LazyString, lazy_gettext
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config import N_
from console.database import Model
from console.models.base import TimestampMixin, label_of

if TYPE_CHECKING:
    from console.models.orders import Order
    from console.models.products import Product
    from console.models.returns import Return
    from console.models.staff import User


class StockReason(enum.StrEnum):
    """Why stock changed. The stored values of the first two predate the ledger."""

    RESERVE = "reserve"
    """Order reserved: stock taken by approving an order (negative)."""
    RELEASE = "release"
    """Order released by cancel: an approved order's stock given back (positive)."""
    RETURN_RESTOCKED = "return_restocked"
    """A returned item put back on the shelf (positive). Returns will refer to their
    return from their movement (``return_id``), and its order."""
    RECEIVED = "received"
    """Goods received, or a new product's initial stock (positive)."""
    COUNTED = "counted"
    """A count: the counted quantity minus what the ledger expected on the shelf."""
    DAMAGED = "damaged"
    """Damaged or lost (negative)."""
    CORRECTION = "correction"
    """A correction of an earlier mistake (either sign)."""
    OPENING_BALANCE = "opening_balance"
    """Written once by the ledger's migration: the stock the ledger started from."""

    @property
    def label(self) -> LazyString:
        """The reason in the reader's language."""
        return lazy_gettext(REASON_LABELS[self])


REASON_LABELS: dict[StockReason, str] = {
    StockReason.RESERVE: N_("Order reserved"),
    StockReason.RELEASE: N_("Order released by cancel"),
    StockReason.RETURN_RESTOCKED: N_("Return restocked"),
    StockReason.RECEIVED: N_("Received"),
    StockReason.COUNTED: N_("Counted"),
    StockReason.DAMAGED: N_("Damaged or lost"),
    StockReason.CORRECTION: N_("Correction"),
    StockReason.OPENING_BALANCE: N_("Opening balance"),
}
"""How each reason reads: in English here, as the audit notes store it; on pages in the
reader's language (``StockReason.label``)."""

_REASON_VALUES = ", ".join(f"'{r.value}'" for r in StockReason)


class StockMovement(TimestampMixin, Model):
    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint(f"reason IN ({_REASON_VALUES})", name="reason_known"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"), index=True
    )
    return_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_return.id", ondelete="SET NULL"), index=True
    )
    """The return whose goods went back on the shelf ("return restocked")."""
    quantity: Mapped[int] = mapped_column()
    """Signed change of the stock: negative takes stock, positive adds to it."""
    reason: Mapped[str] = mapped_column(String(16), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    """What the person wrote about it (a delivery note number, what was broken)."""
    balance_after: Mapped[int | None] = mapped_column()
    """``Product.stock`` right after this movement. Unknown (empty) for movements
    written before the ledger, when the stock could still be overwritten on the form."""

    product: Mapped[Product] = relationship()
    order: Mapped[Order | None] = relationship()
    return_: Mapped[Return | None] = relationship()
    actor: Mapped[User | None] = relationship()

    @property
    def reason_label(self) -> str:
        """The reason in the reader's language (``StockReason.label``)."""
        return label_of(StockReason, self.reason)

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.reason_label}"
