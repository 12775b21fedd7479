"""API tokens and the idempotency keys of the JSON API (``console.api``).

A token is stored only as the SHA-256 of its secret: the secret is 32 random bytes
(256 bits), so nobody can guess it or search for it from its hash, and a slow password
hash (bcrypt) would only make every API request slower without adding safety. bcrypt is
for passwords people choose, which are few enough to try one by one.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import utcnow

if TYPE_CHECKING:
    from console.models.staff import User


class ApiToken(Model):
    """A bearer token of the API, acting as its owner within its own permissions."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    """What the token is for ("Storefront", "Accounting export")."""
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    """The staff member the token acts as: the audit trail and the four-eyes rule name them."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the secret; the secret itself is shown once and never stored."""
    prefix: Mapped[str] = mapped_column(String(12))
    """The secret's first characters, to tell tokens apart in the list."""
    permissions: Mapped[str] = mapped_column(Text, default="", server_default="")
    """Comma-separated permissions: a subset of the owner's when the token was made;
    a request needs a permission both here and still among the owner's."""
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __audit__ = AuditSpec(
        "api_token",
        fields=("name", "prefix", "permissions", "expires_at", "revoked_at"),
        references={"owner_id": "owner"},
    )

    @property
    def permission_list(self) -> list[str]:
        return [p for p in (self.permissions or "").split(",") if p]

    def is_usable(self, now: dt.datetime) -> bool:
        """Not revoked, not expired, and its owner's account still active."""
        if self.revoked_at is not None:
            return False
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return bool(self.owner is not None and self.owner.active)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(Model):
    """One ``Idempotency-Key`` a token sent with ``POST /api/v1/orders``, and its answer.

    The row is inserted first, in the transaction that takes the order: a second
    request with the same key waits on the unique key until the first commits (or
    rolls back), then reads its answer instead of taking the order again.
    """

    __tablename__ = "api_idempotency_key"
    __table_args__ = (
        UniqueConstraint("token_id", "key", name="uq_api_idempotency_key_token_id_key"),
        Index("ix_api_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request's method, path and body as parsed (same key, other body: 422)."""
    status_code: Mapped[int] = mapped_column(default=0)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
