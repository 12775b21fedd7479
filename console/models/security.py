"""Sign-in attempts kept for the per-account lockout (``console.security.lockout``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model


class SignInAttempt(Model):
    """One attempt to prove who someone is (password, second factor, current password).

    Kept in the database so that every worker process and every host counts the same
    attempts, with or without Redis. An attempt is in flight (``failed`` is NULL) while
    its request runs, failed (``failed`` is true) once authentication refused it; a
    successful or interrupted attempt is deleted. Rows older than the lockout window
    are deleted by the next attempt on the same account.
    """

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_attempt_account_at", "account", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(80))
    """``account:<fs_uniquifier>`` for a known account, ``address:<sha256>`` otherwise."""
    at: Mapped[dt.datetime]
    """When the attempt began (UTC, naive like every stored time)."""
    failed: Mapped[bool | None]
