"""One-time form tokens: a create form submitted twice creates one record."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.models import FormSubmission

TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 64


def new_token() -> str:
    """A fresh token for a create form."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class AlreadySubmitted(Exception):
    """The form with this token was submitted before; ``record_id`` is what it made."""

    def __init__(self, record_id: int | None) -> None:
        super().__init__(record_id)
        self.record_id = record_id


def claim(session: Session, token: str, endpoint: str) -> FormSubmission:
    """Record the form's token in the current transaction, before its record is created.

    A concurrent submission of the same form waits for this transaction at the
    primary key; once it commits, the other one fails here. Raises ``AlreadySubmitted``
    (after rolling the session back) when the token was used; the caller creates
    nothing then.
    """
    submission = FormSubmission(token=token[:MAX_TOKEN_LENGTH], endpoint=endpoint)
    session.add(submission)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        earlier = session.get(FormSubmission, token[:MAX_TOKEN_LENGTH], populate_existing=True)
        raise AlreadySubmitted(earlier.record_id if earlier else None) from None
    return submission
