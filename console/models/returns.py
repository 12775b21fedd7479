"""Returns of shipped orders and the refunds that close them.

A return goes ``requested`` -> ``received`` -> ``refunded`` (``console.services.returns``).
Its lines name order lines and quantities; once received, each line says what became of
the goods: back on the shelf (``restock``, one "return restocked" stock movement that
names the return) or written off (no movement). The refund is recorded on the return
itself: who approved it, when, the amounts, and the credit note it issued; a return is
refunded once (``credit_note_id`` is unique).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_babel import LazyString, gettext, lazy_pgettext
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, label_of, utcnow
from console.models.products import MONEY

if TYPE_CHECKING:
    from console.models.documents import CreditNote
    from console.models.orders import Order, OrderLine
    from console.models.staff import User


class ReturnState(enum.StrEnum):
    REQUESTED = "requested"
    """The customer announced the goods; nothing came back yet."""
    RECEIVED = "received"
    """The goods are in: each line restocked or written off."""
    REFUNDED = "refunded"
    """The money went back, with a credit note."""

    @property
    def label(self) -> LazyString:
        return STATE_LABELS[self]


STATE_LABELS: dict[ReturnState, LazyString] = {
    ReturnState.REQUESTED: lazy_pgettext("return state", "Requested"),
    ReturnState.RECEIVED: lazy_pgettext("return state", "Received"),
    ReturnState.REFUNDED: lazy_pgettext("return state", "Refunded"),
}
"""How each state of a return reads on pages, in the reader's language."""


class ReturnOutcome(enum.StrEnum):
    RESTOCK = "restock"
    """Back on the shelf: a "return restocked" stock movement."""
    WRITE_OFF = "write_off"
    """Not sellable again: no stock movement."""

    @property
    def label(self) -> LazyString:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS: dict[ReturnOutcome, LazyString] = {
    ReturnOutcome.RESTOCK: lazy_pgettext("return outcome", "Back to stock"),
    ReturnOutcome.WRITE_OFF: lazy_pgettext("return outcome", "Written off"),
}
"""What came of a returned line, in the reader's language (the audit trail's note keeps
the English words, as every note: ``console.services.returns``)."""


_STATES = ", ".join(f"'{s.value}'" for s in ReturnState)
_OUTCOMES = ", ".join(f"'{o.value}'" for o in ReturnOutcome)


class Return(TimestampMixin, Model):
    """A return of some of an order's goods, with what came of it."""

    __tablename__ = "order_return"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state_known"),
        CheckConstraint("refund_total IS NULL OR refund_total >= 0", name="refund_not_negative"),
        UniqueConstraint("credit_note_id", name="uq_order_return_credit_note_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_order.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default=ReturnState.REQUESTED.value, index=True)
    reason: Mapped[str] = mapped_column(Text)
    """Why the customer sends the goods back (the credit note prints it)."""
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    received_at: Mapped[dt.datetime | None] = mapped_column()
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    """Who approved the refund (``orders.approve``)."""
    refunded_at: Mapped[dt.datetime | None] = mapped_column()
    refund_shipping: Mapped[Decimal | None] = mapped_column(MONEY)
    """Shipping given back, in the order's terms (as its shipping line shows it)."""
    refund_total: Mapped[Decimal | None] = mapped_column(MONEY)
    """What the customer got back: the credit note's total."""
    credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_note.id", ondelete="RESTRICT")
    )

    order: Mapped[Order] = relationship()
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    refunded_by: Mapped[User | None] = relationship(foreign_keys=[refunded_by_id])
    credit_note: Mapped[CreditNote | None] = relationship()

    __audit__ = AuditSpec(
        "return",
        fields=("state", "reason", "refund_shipping", "refund_total"),
        references={"order_id": "order", "credit_note_id": "credit_note"},
    )

    @property
    def label(self) -> str:
        """The return's name where words are stored (the audit trail, a credit note's
        reason), in English as every stored word is; ``title`` is the reader's."""
        return f"Return {self.id}"

    @property
    def title(self) -> str:
        """The return's name on pages and in messages, in the reader's language."""
        return gettext("Return %(number)s", number=self.id)

    @property
    def state_label(self) -> str:
        """The state in the reader's language (``STATE_LABELS``)."""
        return label_of(ReturnState, self.state)

    def __str__(self) -> str:
        return self.label


class ReturnLine(Model):
    """Units of one order line sent back, and (once received) what became of them."""

    __tablename__ = "return_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_OUTCOMES})", name="outcome_known"),
        UniqueConstraint("return_id", "order_line_id", name="uq_return_line_order_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("order_return.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_line.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))

    return_: Mapped[Return] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()

    @property
    def outcome_label(self) -> str:
        return label_of(ReturnOutcome, self.outcome)

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.sku}"
