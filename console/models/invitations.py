"""Invitations of new staff accounts: a signed, expiring link that works once.

A new account has no password and cannot sign in. Its person receives an e-mail with a
link (``/invitation/<token>``) where they choose their password, which activates the
account. The token is signed with the app's secret and names this row and a random
nonce; only the nonce's SHA-256 is stored. Using the link, revoking the invitation or
sending a new one clears or replaces the hash, so every earlier link stops working.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import utcnow

if TYPE_CHECKING:
    from console.models.staff import User


class StaffInvitation(Model):
    """The invitation of one staff account (at most one per account, reused on resend)."""

    __tablename__ = "staff_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), unique=True
    )
    nonce_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the nonce the live link carries; None once used or revoked."""
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    """When the latest link was sent."""
    expires_at: Mapped[dt.datetime] = mapped_column()
    """When the latest link stops working (``CONSOLE_INVITATION_DAYS`` after sending)."""
    accepted_at: Mapped[dt.datetime | None] = mapped_column()
    """When the person chose their password (the account became active)."""
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    """When an administrator withdrew the latest link (None after a resend)."""

    user: Mapped[User] = relationship(back_populates="invitation")

    @property
    def is_pending(self) -> bool:
        """A link is out and has not been used or revoked (it may have expired)."""
        return self.nonce_hash is not None

    def is_expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at
