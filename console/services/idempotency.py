"""Idempotency keys: a request repeated with the same key gets the first one's answer.

Insert first: the key's row is inserted at the start of the transaction that does the
work, and its answer written before that transaction commits. A second request with
the same key, even on another worker at the same moment, blocks on the unique key
(PostgreSQL) or on the write lock (SQLite) until the first commits, and then finds the
row with its answer; if the first rolled back (the work was refused), the row is gone
and the second does the work itself. So the work is done once, and no request ever
reads a key whose answer is not written yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.database import rowcount
from console.models import IdempotencyKey
from console.models.base import utcnow
from console.services.errors import DomainError

KEEP = dt.timedelta(hours=24)
"""How long a key is honoured (and kept): ``flask api prune-keys`` removes older ones."""

MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    """The key was used before with another request."""


@dataclass(frozen=True)
class Replay:
    """The answer the first request with this key got."""

    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of a request as parsed: the same JSON in another layout is the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def begin(
    session: Session, token_id: int, key: str, request_hash: str, now: dt.datetime | None = None
) -> IdempotencyKey | Replay:
    """Claim ``key`` for this request, or find the answer of the request that holds it.

    Returns the new row (do the work in this transaction, then ``finish``) or a
    ``Replay``. Raises ``KeyReused`` when the key came with another request. Ends the
    session's transaction first, so that the insert opens the next one (on SQLite a
    read begun earlier could not become a write while another request writes).
    """
    now = now or utcnow()
    session.commit()
    row = IdempotencyKey(token_id=token_id, key=key, request_hash=request_hash, created_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Nothing else is in this transaction (committed above): rolling it back loses
        # nothing. No savepoint: pysqlite would commit the key's row on its release.
        session.rollback()
    else:
        return row
    earlier = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.token_id == token_id, IdempotencyKey.key == key)
    )
    if earlier is None or earlier.created_at <= now - KEEP:
        # Rolled back or expired meanwhile (not pruned yet): the key starts again here.
        if earlier is not None:
            session.delete(earlier)
            session.commit()
        return begin(session, token_id, key, request_hash, now)
    if earlier.request_hash != request_hash:
        raise KeyReused(
            "This Idempotency-Key was used with another request; use a new key for a new request."
        )
    return Replay(earlier.status_code, earlier.response)


def finish(row: IdempotencyKey, status_code: int, body: Any, order_id: int | None) -> None:
    """Store the answer on the key's row, in the transaction that did the work."""
    row.status_code = status_code
    row.response = body
    row.order_id = order_id


def prune(session: Session, now: dt.datetime | None = None) -> int:
    """Remove keys older than ``KEEP``; returns how many. Commits."""
    cutoff = (now or utcnow()) - KEEP
    removed = rowcount(
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    )
    session.commit()
    return removed
