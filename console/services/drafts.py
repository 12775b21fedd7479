"""Form drafts: what a person typed into a form their session ended under, kept for them.

When a session ends (idle timeout, or ended on the server) and the form the person
was filling in is then posted, the entries are kept here under a random one-time key,
for that person only, until they sign in again (``keep``); the form page then takes
them back (``take``) and shows them in the form, to be checked and saved. A draft
never saves anything by itself. Keys are random and only their SHA-256 is stored;
secrets (fields named like a password, secret, token or CSRF token) are never kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from console.models import FormDraft

LIFETIME = dt.timedelta(days=1)
"""How long a draft waits for its person to sign in again."""

MAX_FIELDS = 2000
"""A form with more fields than this is not kept (no console form comes close)."""

MAX_CHARACTERS = 200_000
"""Nor one whose names and values add up to more characters than this."""

MAX_KEY_LENGTH = 64

SECRET_NAME = re.compile(r"password|passwd|secret|token|csrf", re.IGNORECASE)
"""Field names never kept: passwords, secrets, CSRF and one-time tokens."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def kept_fields(
    pairs: Iterable[tuple[str, str]], *, excluded: Iterable[str] = ()
) -> list[list[str]]:
    """The ``(name, value)`` pairs of a posted form worth keeping, in their order.

    Leaves out secrets (``SECRET_NAME``), the names in ``excluded`` (a form's one-time
    fields) and the submit buttons' names (``_continue_editing``: a draft is saved by a
    fresh press of a button, never by the one pressed before).
    """
    left_out = set(excluded)
    return [
        [name, value]
        for name, value in pairs
        if name not in left_out and not name.startswith("_") and not SECRET_NAME.search(name)
    ]


def keep(
    session: Session,
    user_id: int,
    endpoint: str,
    record_id: str | None,
    fields: list[list[str]],
    now: dt.datetime,
) -> str | None:
    """Keep ``fields`` of the form at ``endpoint`` for ``user_id``; the draft's key.

    None (and nothing kept) when the form carries nothing to keep or is too large.
    Expired drafts of anyone are deleted on the way.
    """
    size = sum(len(name) + len(value) for name, value in fields)
    if not fields or len(fields) > MAX_FIELDS or size > MAX_CHARACTERS:
        return None
    key = secrets.token_urlsafe(32)
    try:
        _delete_expired(session, now)
        session.add(
            FormDraft(
                key_hash=_hash(key),
                user_id=user_id,
                endpoint=endpoint[:80],
                record_id=record_id[:40] if record_id is not None else None,
                fields=fields,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return key


def take(
    session: Session,
    key: str | None,
    user_id: int,
    endpoint: str,
    record_id: str | None,
    now: dt.datetime,
) -> list[tuple[str, str]] | None:
    """The fields of draft ``key`` when it is ``user_id``'s, for this form, and not
    expired; the draft is deleted then (a draft comes back once).

    None otherwise: a draft of someone else stays where it is, for its own person.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    try:
        _delete_expired(session, now)
        draft = session.scalar(select(FormDraft).where(FormDraft.key_hash == _hash(key)))
        if (
            draft is None
            or draft.user_id != user_id
            or draft.endpoint != endpoint
            or draft.record_id != record_id
        ):
            session.commit()
            return None
        fields = [(str(name), str(value)) for name, value in draft.fields]
        session.delete(draft)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return fields


def _delete_expired(session: Session, now: dt.datetime) -> None:
    session.execute(delete(FormDraft).where(FormDraft.expires_at <= now))
