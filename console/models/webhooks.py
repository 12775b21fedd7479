"""Webhooks: the endpoints admins register and the deliveries of order events to them.

An event about an order (created, approved, shipped, ...) is written as one
``WebhookDelivery`` row per endpoint that wants it, in the same transaction as the
change it reports (``console.services.webhooks``), exactly like the e-mail outbox: a
committed change always has its deliveries and a rolled-back one never has any. The
body is rendered when the event happens, so a retry sends the same bytes and the same
event id. Delivery is separate (``console.notify.webhooks``): it claims due rows, posts
them, and records the outcome here.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from flask_babel import LazyString, lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, utcnow

if TYPE_CHECKING:
    from console.models.orders import Order


class WebhookEndpoint(TimestampMixin, Model):
    """Where order events are posted, which of them, and the secret that signs them."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (CheckConstraint("consecutive_failures >= 0", name="failures_not_negative"),)
    __audit__ = AuditSpec(
        "webhook_endpoint",
        fields=("url", "description", "events", "active"),
        masked=("secret",),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Event types posted here (``order.created``, ...): see ``services.webhooks.EVENTS``."""
    secret: Mapped[str] = mapped_column(String(128))
    """The HMAC-SHA256 key of the signatures; revealed to admins on the endpoint's page."""
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    """Failed attempts since the last success; ``WEBHOOK_MAX_FAILURES`` disables."""
    disabled_at: Mapped[dt.datetime | None] = mapped_column()
    """When delivery disabled the endpoint after too many failures (None: it did not)."""

    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def disabled_by_failures(self) -> bool:
        return not self.active and self.disabled_at is not None

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its first or next attempt (``next_attempt_at``)."""
    SENDING = "sending"
    """Claimed by one dispatcher, which is posting it now."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Gave up after ``OUTBOX_MAX_ATTEMPTS`` attempts; an admin may resend it."""

    @property
    def label(self) -> LazyString:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[DeliveryStatus, LazyString] = {
    DeliveryStatus.PENDING: lazy_pgettext("webhook status", "Pending"),
    DeliveryStatus.SENDING: lazy_pgettext("webhook status", "Sending"),
    DeliveryStatus.DELIVERED: lazy_pgettext("webhook status", "Delivered"),
    DeliveryStatus.FAILED: lazy_pgettext("webhook status", "Failed"),
}
"""How each stored status of a webhook delivery reads (the log's filter)."""


_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in DeliveryStatus)


class WebhookDelivery(TimestampMixin, Model):
    """One event for one endpoint: its signed body and how its delivery went."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    """The event's id, the same in every endpoint's delivery and every retry."""
    event_type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    """The JSON body exactly as posted (and signed)."""
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"), index=True
    )

    status: Mapped[str] = mapped_column(
        String(16),
        default=DeliveryStatus.PENDING.value,
        server_default=DeliveryStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
    order: Mapped[Order | None] = relationship()

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"
