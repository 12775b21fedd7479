"""Claiming and sending due outbox messages.

A claim moves a due message from ``pending`` to ``sending`` with a random token, in its
own short transaction, before any SMTP traffic:

- on PostgreSQL the due rows are selected ``FOR UPDATE SKIP LOCKED``, so concurrent
  dispatchers each take different rows without waiting for each other;
- on SQLite (one writer at a time) each candidate is claimed by a conditional
  ``UPDATE ... WHERE id = :id AND status = 'pending'``; only one dispatcher's UPDATE
  matches, the others see zero rows and skip it.

The outcome (sent, retry later with backoff, failed for good) is written only where the
row still carries this dispatcher's token.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_mail import Message
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from console.database import db, rowcount
from console.models import OutboxMessage, OutboxStatus
from console.models.base import utcnow
from console.notify import transport

log = logging.getLogger(__name__)

SMTP_ERRORS = (smtplib.SMTPException, OSError)
"""What a failed delivery raises: protocol refusals and network errors (refused, reset, DNS)."""


@dataclass
class DeliveryReport:
    """What one round of ``deliver_due`` did."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.retried) + len(self.failed)


def mail_configured() -> bool:
    """True when an SMTP relay is configured; without one messages stay in the outbox."""
    return bool(current_app.config.get("MAIL_SERVER"))


def retry_delay(attempts: int) -> dt.timedelta:
    """Backoff before the next attempt: base × 2^(attempts-1) seconds, capped."""
    config = current_app.config
    base = config["OUTBOX_RETRY_BASE_SECONDS"]
    seconds = min(base * 2 ** max(attempts - 1, 0), config["OUTBOX_RETRY_MAX_SECONDS"])
    return dt.timedelta(seconds=seconds)


def _due_condition(now: dt.datetime):
    """Pending and due, or claimed so long ago that its dispatcher must have died."""
    stale = now - dt.timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    return or_(
        and_(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.next_attempt_at <= now,
        ),
        and_(
            OutboxMessage.status == OutboxStatus.SENDING.value,
            OutboxMessage.claimed_at < stale,
        ),
    )


def claim_rows(
    session: Session, model: type, due: Any, limit: int, only_ids: list[int] | None = None
) -> list[int]:
    """Claim up to ``limit`` rows of ``model`` matching ``due`` for this dispatcher.

    ``model`` is a queue table with ``status``, ``claim_token``, ``claimed_at`` and
    ``next_attempt_at`` (the outbox, webhook deliveries). Returns the claimed ids.
    Commits.
    """
    now = utcnow()
    token = uuid.uuid4().hex
    claimed = {"status": "sending", "claim_token": token, "claimed_at": now}
    query = select(model.id).where(due).order_by(model.next_attempt_at)
    if only_ids is not None:
        query = query.where(model.id.in_(only_ids))
    try:
        if session.get_bind().dialect.name == "postgresql":
            ids = list(session.scalars(query.limit(limit).with_for_update(skip_locked=True)))
            if ids:
                session.execute(
                    update(model)
                    .where(model.id.in_(ids))
                    .values(**claimed)
                    .execution_options(synchronize_session=False)
                )
        else:
            ids = []
            for candidate in session.scalars(query.limit(limit)).all():
                result = session.execute(
                    update(model)
                    .where(model.id == candidate, due)
                    .values(**claimed)
                    .execution_options(synchronize_session=False)
                )
                if rowcount(result) == 1:
                    ids.append(candidate)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ids


def claim_due(session: Session, limit: int, only_ids: list[int] | None = None) -> list[int]:
    """Claim up to ``limit`` due messages for this dispatcher; returns their ids. Commits."""
    return claim_rows(session, OutboxMessage, _due_condition(utcnow()), limit, only_ids)


def record_outcome(session: Session, model: type, row: int, token: str | None, **values) -> None:
    """Write an outcome, only where the row is still claimed by this dispatcher. Commits."""
    session.execute(
        update(model)
        .where(model.id == row, model.claim_token == token)
        .values(claim_token=None, claimed_at=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


OUTBOX_ID_HEADER = "X-Console-Outbox-Id"
"""Names the outbox row a mail was sent from, so that a received mail (a bounce, a
customer's complaint, a relay's log) can be traced back to it in the console."""


def _as_mail(message: OutboxMessage) -> Message:
    """The message as Flask-Mail sends it, with its documents attached as PDF files.

    Attachments are read from the documents at each attempt (the outbox row holds a
    reference, not a copy), so a retried message carries the same, immutable PDF.
    """
    mail = Message(
        subject=message.subject,
        recipients=[message.recipient],
        body=message.body_text,
        html=message.body_html,
        sender=message.sender,
        extra_headers={OUTBOX_ID_HEADER: str(message.id)},
    )
    for document in message.attachments:
        mail.attach(document.file_name, "application/pdf", document.pdf)
    return mail


def _record(session: Session, message_id: int, token: str | None, **values) -> None:
    record_outcome(session, OutboxMessage, message_id, token, **values)


def send_claimed(session: Session, message_id: int, report: DeliveryReport) -> None:
    """Send one claimed message and record the outcome."""
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != OutboxStatus.SENDING:
        return
    token = message.claim_token
    attempts = message.attempts + 1
    now = utcnow()
    mail = _as_mail(message)
    session.commit()  # end the read transaction: no database lock is held during SMTP
    try:
        transport.send(mail)
    except SMTP_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            log.error("outbox message %s failed for good: %s", message_id, error)
            _record(
                session,
                message_id,
                token,
                status=OutboxStatus.FAILED.value,
                attempts=attempts,
                last_attempt_at=now,
                last_error=error,
            )
            report.failed.append(message_id)
        else:
            log.warning("outbox message %s not sent (attempt %s): %s", message_id, attempts, error)
            _record(
                session,
                message_id,
                token,
                status=OutboxStatus.PENDING.value,
                attempts=attempts,
                last_attempt_at=now,
                last_error=error,
                next_attempt_at=now + retry_delay(attempts),
            )
            report.retried.append(message_id)
        return
    _record(
        session,
        message_id,
        token,
        status=OutboxStatus.SENT.value,
        attempts=attempts,
        last_attempt_at=now,
        sent_at=utcnow(),
        last_error=None,
    )
    report.sent.append(message_id)


def deliver_due(limit: int | None = None, only_ids: list[int] | None = None) -> DeliveryReport:
    """Claim and send the messages due now (in an app context). Nothing without MAIL_SERVER."""
    report = DeliveryReport()
    if not mail_configured():
        return report
    session = db.session
    limit = limit or current_app.config["OUTBOX_BATCH_SIZE"]
    for message_id in claim_due(session, limit, only_ids):
        send_claimed(session, message_id, report)
    return report


def count_due() -> int:
    """How many messages are due now (for the worker's idle check and the CLI)."""
    return db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(_due_condition(utcnow()))
    )


@dataclass
class RetryBacklog:
    """Pending messages that are not due yet: they wait out a retry backoff."""

    count: int
    next_due: dt.datetime | None
    """When the first of them becomes due (naive UTC), or None when there are none."""


def waiting_for_retry() -> RetryBacklog:
    """How many pending messages wait for a later attempt, and when the next is due."""
    count, next_due = db.session.execute(
        select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.next_attempt_at > utcnow(),
        )
    ).one()
    return RetryBacklog(count=count, next_due=next_due)
