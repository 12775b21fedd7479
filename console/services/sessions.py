"""Server-side sessions of staff members: start, find, keep alive, list and end them.

The request side (which key the cookie carries, when a request counts as activity)
lives in ``console.security.sessions``; here are the rules on the rows. Keys are random
and only their SHA-256 is stored, so a database dump opens no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask_babel import gettext
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from console.database import rowcount
from console.models import StaffSession, User
from console.models.base import utcnow
from console.permissions import STAFF_MANAGE
from console.services.errors import DomainError

SEEN_EVERY = dt.timedelta(minutes=1)
"""A session's "last seen" is written at most this often (not on every request)."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, user: User, *, address: str | None, browser: str | None) -> str:
    """Record a new signed-in session of ``user``; its key, for the session cookie."""
    key = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            user_id=user.id,
            key_hash=_hash(key),
            address=(address or None) and address[:64],
            browser=(browser or None) and browser[:255],
        )
    )
    return key


def find_session(session: Session, key: str | None) -> StaffSession | None:
    """The live session whose cookie carries ``key``, or None (ended or never started)."""
    if not key:
        return None
    return session.scalar(select(StaffSession).where(StaffSession.key_hash == _hash(key)))


def is_idle(row: StaffSession, idle_timeout: dt.timedelta, now: dt.datetime) -> bool:
    """True when ``row`` has seen no request for longer than ``idle_timeout``.

    ``last_seen_at`` is written at most every ``SEEN_EVERY``, hence the allowance.
    """
    return now - row.last_seen_at > idle_timeout + SEEN_EVERY


def touch(row: StaffSession, now: dt.datetime) -> bool:
    """Note activity on ``row``; True when the row changed (it was due)."""
    if now - row.last_seen_at < SEEN_EVERY:
        return False
    row.last_seen_at = now
    return True


def end_session(session: Session, key: str | None) -> None:
    """End the one session whose cookie carries ``key`` (sign-out)."""
    if key:
        session.execute(delete(StaffSession).where(StaffSession.key_hash == _hash(key)))


def end_sessions(session: Session, user: User, *, keep: str | None = None) -> int:
    """End every session of ``user`` except the one carrying ``keep``; how many ended."""
    statement = delete(StaffSession).where(StaffSession.user_id == user.id)
    if keep:
        statement = statement.where(StaffSession.key_hash != _hash(keep))
    return rowcount(session.execute(statement))


def active_sessions(session: Session, user: User, idle_timeout: dt.timedelta) -> list[StaffSession]:
    """``user``'s sessions that have not idled out, the most recently used first."""
    since = utcnow() - idle_timeout - SEEN_EVERY
    return list(
        session.scalars(
            select(StaffSession)
            .where(StaffSession.user_id == user.id, StaffSession.last_seen_at >= since)
            .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
        )
    )


def is_current(row: StaffSession, key: str | None) -> bool:
    """True when ``row`` is the session whose cookie carries ``key``."""
    return bool(key) and row.key_hash == _hash(key or "")


def sign_out_everywhere(session: Session, actor: User, user: User, *, keep: str | None) -> int:
    """End ``user``'s sessions at ``actor``'s request; how many ended.

    Anyone may end their own other sessions (``keep`` is the one they use now);
    ending someone else's needs ``staff.manage`` and ends all of them.
    """
    if actor.id != user.id:
        if not actor.is_active or not actor.has_permission(STAFF_MANAGE):
            raise DomainError(
                gettext("Only an administrator (staff.manage) can end others' sessions.")
            )
        keep = None
    try:
        ended = end_sessions(session, user, keep=keep)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return ended
