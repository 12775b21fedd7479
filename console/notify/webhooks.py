"""The webhook transport: signed HTTP POSTs of order events, claimed like the outbox.

Each delivery row (``console.models.webhooks``) is claimed before it is posted
(``dispatcher.claim_rows``: ``SKIP LOCKED`` on PostgreSQL, a conditional ``UPDATE`` on
SQLite), so several dispatchers never post one delivery twice in normal operation; the
outcome is written only where the row still carries this dispatcher's claim.

A request carries three headers (docs/webhooks.md):

- ``Console-Webhook-Id``: the event's id (the same on every retry; receivers use it
  to ignore a repeat);
- ``Console-Webhook-Timestamp``: Unix seconds when this attempt was signed;
- ``Console-Webhook-Signature``: ``v1=<hex>``, the HMAC-SHA256 of
  ``timestamp + "." + body`` under the endpoint's secret.

HTTP goes through the standard library: no HTTP client is in the lock, and
``http.client`` lets the connection go to the address checked by
``services.webhooks.resolve_endpoint`` while TLS still verifies the host's name
(requests/urllib3 would resolve the name again, reopening the DNS rebinding window).
Every socket operation times out after ``WEBHOOK_TIMEOUT_SECONDS``; redirects are not
followed (a 3xx counts as a failure), so a receiver cannot bounce a delivery inside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import logging
import socket
import ssl
import time

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from console.database import db
from console.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from console.models.base import utcnow
from console.notify.dispatcher import DeliveryReport, claim_rows, record_outcome, retry_delay
from console.services.errors import DomainError
from console.services.webhooks import Target, resolve_endpoint

log = logging.getLogger(__name__)

ID_HEADER = "Console-Webhook-Id"
TIMESTAMP_HEADER = "Console-Webhook-Timestamp"
SIGNATURE_HEADER = "Console-Webhook-Signature"
EVENT_HEADER = "Console-Webhook-Event"
USER_AGENT = "BackOfficeConsole-Webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024
"""Bytes of a receiver's answer read (and the first 300 of them kept as the error)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(event_id: str, event_type: str, secret: str, body: bytes) -> dict[str, str]:
    """The headers of one attempt, signed now."""
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ID_HEADER: event_id,
        EVENT_HEADER: event_type,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; the Host header still names the host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified for the host's name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self.address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class DeliveryFailed(Exception):
    """An attempt did not get a 2xx answer; ``status`` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` (checked now, connected to the checked address).

    Returns the 2xx status; raises ``DeliveryFailed`` for a refused URL, a network
    error, a timeout or any other status.
    """
    try:
        target = resolve_endpoint(url)
    except DomainError as refused:
        raise DeliveryFailed(f"Refused: {refused.message}") from None
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:2000]) from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        text = answer[:300].decode("utf-8", "replace").strip()
        raise DeliveryFailed(f"HTTP {response.status} {response.reason}: {text}", response.status)
    return response.status


# --- claiming and recording -----------------------------------------------------------


def _due_condition(now: dt.datetime):
    """Pending, due and for an active endpoint, or claimed by a dispatcher that died."""
    stale = now - dt.timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True))
    return or_(
        and_(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.endpoint_id.in_(active),
        ),
        and_(
            WebhookDelivery.status == DeliveryStatus.SENDING.value,
            WebhookDelivery.claimed_at < stale,
        ),
    )


def _note_endpoint(session: Session, endpoint_id: int, success: bool) -> None:
    """Count a failure (disabling at ``WEBHOOK_MAX_FAILURES`` in a row) or clear the count.

    Plain UPDATEs with the arithmetic in SQL, so that concurrent dispatchers add up.
    """
    if success:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures > 0)
            .values(consecutive_failures=0)
            .execution_options(synchronize_session=False)
        )
        return
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
        .execution_options(synchronize_session=False)
    )
    disabled = session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.consecutive_failures >= current_app.config["WEBHOOK_MAX_FAILURES"],
        )
        .values(active=False, disabled_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if disabled.rowcount:  # type: ignore[attr-defined]
        log.error("webhook endpoint %s disabled after repeated failures", endpoint_id)


def send_claimed(session: Session, delivery_id: int, report: DeliveryReport) -> None:
    """Post one claimed delivery and record the outcome."""
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != DeliveryStatus.SENDING:
        return
    endpoint = delivery.endpoint
    token = delivery.claim_token
    attempts = delivery.attempts + 1
    body = delivery.body.encode()
    headers = signed_headers(delivery.event_id, delivery.event_type, endpoint.secret, body)
    url, endpoint_id = endpoint.url, endpoint.id
    now = utcnow()
    session.commit()  # no database lock is held while the receiver answers
    try:
        status = post(url, body, headers)
    except DeliveryFailed as failed:
        error = str(failed)[:2000]
        _note_endpoint(session, endpoint_id, success=False)
        outcome = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": failed.status,
            "last_error": error,
        }
        if attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            log.error("webhook delivery %s failed for good: %s", delivery_id, error)
            outcome["status"] = DeliveryStatus.FAILED.value
            report.failed.append(delivery_id)
        else:
            log.warning("webhook delivery %s failed (attempt %s): %s", delivery_id, attempts, error)
            outcome["status"] = DeliveryStatus.PENDING.value
            outcome["next_attempt_at"] = now + retry_delay(attempts)
            report.retried.append(delivery_id)
        record_outcome(session, WebhookDelivery, delivery_id, token, **outcome)
        return
    _note_endpoint(session, endpoint_id, success=True)
    record_outcome(
        session,
        WebhookDelivery,
        delivery_id,
        token,
        status=DeliveryStatus.DELIVERED.value,
        attempts=attempts,
        last_attempt_at=now,
        last_status_code=status,
        last_error=None,
        delivered_at=utcnow(),
    )
    report.sent.append(delivery_id)


def deliver_due(limit: int | None = None, only_ids: list[int] | None = None) -> DeliveryReport:
    """Claim and post the deliveries due now (in an app context)."""
    report = DeliveryReport()
    session = db.session
    limit = limit or current_app.config["OUTBOX_BATCH_SIZE"]
    for delivery_id in claim_rows(
        session, WebhookDelivery, _due_condition(utcnow()), limit, only_ids
    ):
        send_claimed(session, delivery_id, report)
    return report


def count_due() -> int:
    """How many deliveries are due now (for the worker's idle check and the sweep)."""
    return db.session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(_due_condition(utcnow()))
    )
