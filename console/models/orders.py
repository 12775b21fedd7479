"""Orders and their lines.

Totals are computed on the server from the lines (``console.services.orders``); a
line's unit price is copied from the product when the line is added, so later price
changes do not alter orders already taken.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.addresses import ORDER_ADDRESS_COLUMNS, OrderAddressesMixin
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin
from console.models.products import MONEY, Product

if TYPE_CHECKING:
    from console.models.customers import Customer
    from console.models.staff import User


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in OrderStatus)

order_editor = Table(
    "order_editor",
    Model.metadata,
    Column("order_id", ForeignKey("sales_order.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "user_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)
"""Who changed a pending order's customer, addresses, lines or total after it was taken.

The four-eyes rule reads it: none of them may approve the order. Kept beside the
order rather than read from the audit trail, whose old events may be archived away
while an order still waits.
"""


class Order(OrderAddressesMixin, TimestampMixin, VersionedMixin, Model):
    __tablename__ = "sales_order"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        # The pending list and the status filter sort by age within a status.
        Index("ix_sales_order_status_created_at", "status", "created_at"),
        # "Orders you took" on the dashboard and the "taken by" filter, newest first.
        Index("ix_sales_order_created_by_id_created_at", "created_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(
        String(16), default=OrderStatus.PENDING.value, server_default=OrderStatus.PENDING.value
    )
    coupon_code: Mapped[str | None] = mapped_column(String(40))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"), server_default="0")

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    placed_at: Mapped[dt.datetime | None] = mapped_column()
    """When the clerk finished taking the order and the customer was told; None: a draft."""
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    shipped_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()

    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    edited_by: Mapped[list[User]] = relationship(secondary=order_editor, order_by="User.id")
    """Staff who changed the customer, addresses, lines or total after the order was taken."""

    __audit__ = AuditSpec(
        "order",
        fields=(
            "number",
            "status",
            "coupon_code",
            "total",
            "placed_at",
            "decided_at",
            "rejection_reason",
            "tracking_number",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            *ORDER_ADDRESS_COLUMNS,
        ),
        references={
            "customer_id": "customer",
            "created_by_id": "created_by",
            "decided_by_id": "decided_by",
        },
        # A change of the lines is a change of the order: it moves the order's version.
        owned_collections=("lines",),
    )

    @property
    def is_pending(self) -> bool:
        return self.status == OrderStatus.PENDING

    def __str__(self) -> str:
        return self.number or "new order"


class OrderLine(Model):
    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_order.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[Decimal] = mapped_column(MONEY)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __audit__ = AuditSpec(
        "order_line",
        fields=("quantity", "unit_price"),
        references={"product_id": "product"},
        parent=("order", "order_id", "order"),
    )

    @property
    def line_total(self) -> Decimal:
        if self.quantity is None or self.unit_price is None:
            return Decimal("0.00")
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product.sku if self.product else '?'}"
