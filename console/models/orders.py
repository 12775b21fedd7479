"""Orders, their lines and their tax breakdown.

Totals are computed on the server from the lines (``console.services.pricing``); a
line's SKU, name, unit price and tax rate are copied from the product when the line is
added, so later catalogue changes do not alter orders already taken.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString, lazy_pgettext
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.addresses import ORDER_ADDRESS_COLUMNS, OrderAddressesMixin
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin, label_of
from console.models.pricing import PERCENT, Promotion, ShippingMethod, TaxRate
from console.models.products import MONEY, Product

if TYPE_CHECKING:
    from console.models.customers import Customer
    from console.models.staff import User

ZERO = Decimal("0.00")


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def label(self) -> LazyString:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[OrderStatus, LazyString] = {
    OrderStatus.PENDING: lazy_pgettext("order status", "Pending"),
    OrderStatus.APPROVED: lazy_pgettext("order status", "Approved"),
    OrderStatus.REJECTED: lazy_pgettext("order status", "Rejected"),
    OrderStatus.SHIPPED: lazy_pgettext("order status", "Shipped"),
    OrderStatus.DELIVERED: lazy_pgettext("order status", "Delivered"),
    OrderStatus.CANCELLED: lazy_pgettext("order status", "Cancelled"),
}
"""How each status reads on pages and e-mails, in the reader's language (the stored
value and the exports keep the English word)."""

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
        CheckConstraint("subtotal >= 0", name="subtotal_not_negative"),
        CheckConstraint(
            "discount_total >= 0 AND discount_total <= subtotal", name="discount_within_subtotal"
        ),
        CheckConstraint("shipping_total >= 0", name="shipping_total_not_negative"),
        CheckConstraint("tax_total >= 0", name="tax_total_not_negative"),
        # The pending list and the status filter sort by age within a status.
        Index("ix_sales_order_status_created_at", "status", "created_at"),
        # The API's pages of one status, in id order (``status = ? AND id > ?``).
        Index("ix_sales_order_status_id", "status", "id"),
        # The API's ``updated_since``, for clients that sync.
        Index("ix_sales_order_updated_at", "updated_at"),
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
    """The code as recorded: orders taken before promotions existed keep their text."""
    promotion_id: Mapped[int | None] = mapped_column(
        ForeignKey("promotion.id", ondelete="RESTRICT"), index=True
    )
    """The promotion the coupon code applied (None: no code, or a code from before)."""
    shipping_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipping_method.id", ondelete="RESTRICT")
    )
    shipping_method_name: Mapped[str | None] = mapped_column(String(60))
    """The shipping method's name when the order was last priced (a snapshot: renaming
    the method later changes no past order, e-mail or export)."""
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    """The sum of the lines' totals (quantity × unit price)."""
    discount_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    shipping_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    shipping_tax_rate: Mapped[Decimal | None] = mapped_column(PERCENT)
    """The rate the shipping was taxed at when the order was last priced (None: no
    shipping charged, or an order priced before the rate was kept): a refund or credit
    note gives shipping back at this rate, whatever the shop's setting says today."""
    tax_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    """Tax charged on top (prices without tax) or included (prices with tax)."""
    prices_include_tax: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether the order was priced with tax included in its prices (how to read it)."""
    total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")

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
    promotion: Mapped[Promotion | None] = relationship()
    shipping_method: Mapped[ShippingMethod | None] = relationship()
    tax_lines: Mapped[list[OrderTaxLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderTaxLine.rate"
    )
    """Tax per rate, as the order was last priced."""

    __audit__ = AuditSpec(
        "order",
        fields=(
            "number",
            "status",
            "coupon_code",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
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
            "promotion_id": "promotion",
            "shipping_method_id": "shipping_method",
        },
        # A change of the lines is a change of the order: it moves the order's version.
        owned_collections=("lines",),
    )

    @property
    def status_label(self) -> str:
        """The status in the reader's language (``STATUS_LABELS``)."""
        return label_of(OrderStatus, self.status)

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
        CheckConstraint("tax_rate >= 0 AND tax_rate <= 100", name="tax_rate_percent"),
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
    # The product as it was when the line was added (or its product changed).
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    tax_rate: Mapped[Decimal] = mapped_column(PERCENT)
    tax_name: Mapped[str] = mapped_column(String(60))

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __audit__ = AuditSpec(
        "order_line",
        # The snapshot's SKU and name repeat the product's label, recorded below.
        fields=("quantity", "unit_price"),
        references={"product_id": "product"},
        parent=("order", "order_id", "order"),
    )

    @property
    def line_total(self) -> Decimal:
        if self.quantity is None or self.unit_price is None:
            return Decimal("0.00")
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))

    def take_snapshot(self) -> None:
        """Copy SKU, name, unit price and tax rate from the line's product, as they are now."""
        product = self.product
        self.sku, self.name, self.unit_price = product.sku, product.name, product.unit_price
        self.tax_rate, self.tax_name = product.tax_rate.rate, product.tax_rate.name

    def __str__(self) -> str:
        sku = self.sku or (self.product.sku if self.product else "?")
        return f"{self.quantity} × {sku}"


@event.listens_for(OrderLine, "before_insert")
def _snapshot_if_missing(_mapper: Any, connection: Any, line: OrderLine) -> None:
    """A line inserted without its snapshot (code that bypasses the order service, such
    as an import) takes it from its product's row as it is now."""
    if None not in (line.sku, line.name, line.tax_rate, line.tax_name, line.unit_price):
        return
    product = inspect(line).attrs.product.loaded_value
    product_id = product.id if isinstance(product, Product) else line.product_id
    row = connection.execute(
        select(Product.sku, Product.name, Product.unit_price, TaxRate.rate, TaxRate.name)
        .join(TaxRate, TaxRate.id == Product.tax_rate_id)
        .where(Product.id == product_id)
    ).one()
    line.sku = line.sku if line.sku is not None else row[0]
    line.name = line.name if line.name is not None else row[1]
    line.unit_price = line.unit_price if line.unit_price is not None else row[2]
    line.tax_rate = line.tax_rate if line.tax_rate is not None else row[3]
    line.tax_name = line.tax_name if line.tax_name is not None else row[4]


class OrderTaxLine(Model):
    """Tax of one rate on one order: the amount it applies to and the tax (per-line sums).

    Rewritten each time the order is priced; e-mails, pages and exports read it.
    """

    __tablename__ = "order_tax_line"
    __table_args__ = (
        UniqueConstraint("order_id", "rate", name="uq_order_tax_line_order_id_rate"),
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"))
    rate: Mapped[Decimal] = mapped_column(PERCENT)
    name: Mapped[str] = mapped_column(String(200))
    base: Mapped[Decimal] = mapped_column(MONEY)
    """The amount taxed at this rate, without its tax (lines after discount, shipping)."""
    tax: Mapped[Decimal] = mapped_column(MONEY)

    order: Mapped[Order] = relationship(back_populates="tax_lines")
