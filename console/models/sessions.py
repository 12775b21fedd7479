"""Signed-in sessions of staff members, kept on the server.

The session cookie is signed, not secret: a copy of it would keep working after
sign-out if the cookie alone decided. Each sign-in therefore starts a row here, the
cookie carries its random key, and every request must find its row; signing out,
"sign out everywhere", a password change or reset, deactivation and a role change
delete rows, which ends those sessions on their next request.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import utcnow
from console.models.staff import User


class StaffSession(Model):
    """One signed-in browser of a staff member: when it started, last seen, from where."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the key the session cookie carries (the key itself is never stored)."""
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    address: Mapped[str | None] = mapped_column(String(64))
    """The client address at sign-in."""
    browser: Mapped[str | None] = mapped_column(String(255))
    """The browser's User-Agent at sign-in, shortened."""

    user: Mapped[User] = relationship()
