"""The transactional outbox: every e-mail the console sends, kept as a row.

A service writes the message in the same transaction as the change it reports, so a
committed change always has its e-mail and a rolled-back change never has one.
Delivery is separate (``console.notify``): it claims due rows, sends them and records
the outcome here, so a message survives an SMTP or queue outage and stays visible.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from flask_babel import LazyString, lazy_pgettext
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import TimestampMixin, label_of, utcnow

if TYPE_CHECKING:
    from console.models.documents import CreditNote, Invoice
    from console.models.orders import Order


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its first or next attempt (``next_attempt_at``)."""
    SENDING = "sending"
    """Claimed by one dispatcher, which is talking to the SMTP server now."""
    SENT = "sent"
    FAILED = "failed"
    """Gave up after the configured number of attempts; a person may resend it."""

    @property
    def label(self) -> LazyString:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[OutboxStatus, LazyString] = {
    OutboxStatus.PENDING: lazy_pgettext("e-mail status", "Pending"),
    OutboxStatus.SENDING: lazy_pgettext("e-mail status", "Sending"),
    OutboxStatus.SENT: lazy_pgettext("e-mail status", "Sent"),
    OutboxStatus.FAILED: lazy_pgettext("e-mail status", "Failed"),
}
"""How each stored status of an e-mail reads (the outbox's filter), in the reader's
language."""


class DeliveryState(enum.StrEnum):
    """How a delivery (an e-mail's, a webhook's) is told on pages: the stored status,
    with a pending one told apart by whether an attempt failed already
    (``console.services.notifications.delivery_state``)."""

    QUEUED = "queued"
    RETRYING = "retrying"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"

    @property
    def label(self) -> LazyString:
        return DELIVERY_LABELS[self]


DELIVERY_LABELS: dict[DeliveryState, LazyString] = {
    DeliveryState.QUEUED: lazy_pgettext("delivery", "Queued"),
    DeliveryState.RETRYING: lazy_pgettext("delivery", "Retrying"),
    DeliveryState.SENDING: lazy_pgettext("delivery", "Sending"),
    DeliveryState.SENT: lazy_pgettext("delivery", "Sent"),
    DeliveryState.FAILED: lazy_pgettext("delivery", "Failed"),
}
"""How each delivery state reads in badges, in the reader's language."""


def delivery_label(state: str | None) -> str:
    """``state`` (a ``DeliveryState`` value) in the reader's words."""
    return label_of(DeliveryState, state)


_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in OutboxStatus)


class OutboxMessage(TimestampMixin, Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # Dispatchers look for due messages: status first, then the time they are due.
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(80))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"), index=True
    )

    status: Mapped[str] = mapped_column(
        String(16), default=OutboxStatus.PENDING.value, server_default=OutboxStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()

    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="RESTRICT"), index=True
    )
    """An invoice sent with the message as a PDF attachment (read at each attempt)."""
    credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_note.id", ondelete="RESTRICT"), index=True
    )
    """A credit note sent with the message as a PDF attachment."""

    order: Mapped[Order | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    credit_note: Mapped[CreditNote | None] = relationship()

    @property
    def attachments(self) -> list[CreditNote | Invoice]:
        """The documents that go with the message, each as its PDF."""
        return [doc for doc in (self.invoice, self.credit_note) if doc is not None]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipient}"
