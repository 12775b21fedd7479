"""Webhooks: registering endpoints, and writing order events for them in the outbox way.

A service that changes an order calls ``enqueue_order_event`` inside its own
transaction, right where it queues the customer's e-mail: one ``WebhookDelivery`` row
per active endpoint that wants the event, committed with the change or not at all.
``console.notify.webhooks`` posts them later, signed, from the same workers and runtime
as the e-mail outbox.

Where an endpoint may point is decided here (``resolve_endpoint``), at registration
and again at every delivery: HTTPS only unless ``WEBHOOK_ALLOW_HTTP``; every address
the host resolves to must be public unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``. The
delivery then connects to the very address checked, so a DNS answer that changes in
between (DNS rebinding) cannot point it inside the network.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import DeliveryStatus, Order, User, WebhookDelivery, WebhookEndpoint
from console.models.base import utcnow
from console.permissions import STAFF_MANAGE
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.notifications import OUTBOX_DIRTY, requeue

EVENTS: dict[str, str] = {
    "order.created": "An order was placed",
    "order.updated": "A pending order's customer, addresses, lines or totals changed",
    "order.approved": "An order was approved (stock reserved)",
    "order.rejected": "An order was rejected",
    "order.shipped": "An order was shipped (with its tracking number)",
    "order.delivered": "An order reached its customer",
    "order.cancelled": "An order was cancelled",
    "return.requested": "A return of a shipped order was recorded",
    "return.received": "A return's goods came back (each line restocked or written off)",
    "refund.issued": "A return was refunded, with its credit note",
}
"""Every event type an endpoint may subscribe to, with what it means."""

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200
SECRET_PREFIX = "whsec_"


# --- where an endpoint may point --------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An endpoint URL checked for delivery: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    """Path and query string, as sent in the request line."""
    address: str
    """The checked IP address the delivery connects to (never resolved again)."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_endpoint(url: str) -> Target:
    """Check ``url`` against the webhook rules and resolve its host; raise ``DomainError``.

    Every address the host resolves to must be allowed (one private answer among
    public ones is refused too): a resolver may hand out any of them.
    """
    config = current_app.config
    url = (url or "").strip()
    if not url:
        raise DomainError(
            gettext("Give the endpoint's URL, such as https://shop.example/hooks/console.")
        )
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(
            gettext(
                "The URL is too long (at most %(max_url_length)s characters).",
                max_url_length=MAX_URL_LENGTH,
            )
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DomainError(gettext("This is not a valid URL.")) from None
    allowed = ("https", "http") if config["WEBHOOK_ALLOW_HTTP"] else ("https",)
    if parts.scheme not in allowed:
        raise DomainError(
            gettext(
                "Webhook URLs must start with https:// (plain HTTP is accepted only when "
                "WEBHOOK_ALLOW_HTTP is set, for development)."
            )
        )
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise DomainError(
            gettext("Give a URL with a host name, without user name, password or #part.")
        )
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise DomainError(
            gettext("The host %(hostname)s could not be found.", hostname=parts.hostname)
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise DomainError(
            gettext("The host %(hostname)s could not be found.", hostname=parts.hostname)
        )
    if not config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        private = [address for address in addresses if not _is_public(address)]
        if private:
            raise DomainError(
                gettext(
                    "The host %(hostname)s resolves to an address that is not public "
                    "(%(private)s: loopback, private, link-local or reserved); webhooks go only "
                    "to public addresses.",
                    hostname=parts.hostname,
                    private=private[0],
                )
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


# --- endpoints ----------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if actor is None or not actor.active or not actor.has_permission(STAFF_MANAGE):
        raise DomainError(
            gettext("Your role does not allow managing webhooks (it needs staff.manage).")
        )


def _clean_events(events: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or ()))
    unknown = [name for name in chosen if name not in EVENTS]
    if unknown:
        raise DomainError(
            gettext("Unknown event type: %(join)s.", join=", ".join(map(str, unknown)))
        )
    if not chosen:
        raise DomainError(gettext("Choose at least one event to send to this endpoint."))
    return [name for name in EVENTS if name in chosen]


def _clean_description(description: str | None) -> str | None:
    text = (description or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise DomainError(
            gettext(
                "The description is too long (at most %(max_description_length)s characters).",
                max_description_length=MAX_DESCRIPTION_LENGTH,
            )
        )
    return text or None


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_endpoint(
    session: Session,
    actor: User,
    *,
    url: str,
    events: Iterable[str],
    description: str | None = None,
    active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint with a generated secret. Commits."""
    _require_admin(actor)
    resolve_endpoint(url)
    endpoint = WebhookEndpoint(
        url=url.strip(),
        events=_clean_events(events),
        description=_clean_description(description),
        secret=new_secret(),
        active=bool(active),
    )
    session.add(endpoint)
    _commit(session)
    return endpoint


def update_endpoint(
    session: Session,
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    url: str,
    events: Iterable[str],
    description: str | None,
    active: bool,
) -> WebhookEndpoint:
    """Change an endpoint; turning it on again clears its failure count. Commits."""
    _require_admin(actor)
    try:
        if url.strip() != endpoint.url:
            resolve_endpoint(url)
        endpoint.url = url.strip()
        endpoint.events = _clean_events(events)
        endpoint.description = _clean_description(description)
        if active and not endpoint.active:
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
        endpoint.active = bool(active)
    except DomainError:
        session.rollback()
        raise
    _commit(session)
    return endpoint


def rotate_secret(session: Session, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """Give an endpoint a new secret (the old one stops verifying at once). Commits."""
    _require_admin(actor)
    number = row_id(endpoint_id)
    endpoint = session.get(WebhookEndpoint, number) if number else None
    if endpoint is None:
        raise DomainError(gettext("This webhook endpoint does not exist (any more)."))
    endpoint.secret = new_secret()
    _commit(session)
    return endpoint


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def disabled_endpoints(session: Session) -> list[WebhookEndpoint]:
    """Endpoints delivery switched off after too many failures (for the dashboard)."""
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.active.is_(False), WebhookEndpoint.disabled_at.is_not(None))
            .order_by(WebhookEndpoint.id)
        )
    )


# --- events ---------------------------------------------------------------------------------


def _money(value: Any) -> str:
    return str(value)


def _timestamp(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def order_data(order: Order) -> dict[str, Any]:
    """The order as events carry it: number, status, customer, lines and totals.

    Money is text with two decimals (exact, never a float).
    """
    customer = order.customer
    return {
        "number": order.number,
        "status": order.status,
        "customer": {
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
        },
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "tax_rate": _money(line.tax_rate),
                "line_total": _money(line.line_total),
            }
            for line in order.lines
        ],
        "currency": current_app.config["CONSOLE_CURRENCY"],
        "coupon_code": order.coupon_code,
        "shipping_method": order.shipping_method_name,
        "subtotal": _money(order.subtotal),
        "discount_total": _money(order.discount_total),
        "shipping_total": _money(order.shipping_total),
        "tax_total": _money(order.tax_total),
        "total": _money(order.total),
        "tracking_number": order.tracking_number,
        "rejection_reason": order.rejection_reason,
        "created_at": _timestamp(order.created_at),
        "updated_at": _timestamp(order.updated_at),
    }


def enqueue_order_event(
    session: Session,
    order: Order,
    event_type: str,
    extra: dict[str, Any] | None = None,
) -> list[WebhookDelivery]:
    """Write event ``event_type`` about ``order`` for every active endpoint wanting it.

    ``extra``: more of the event's ``data`` beside the order (a return's ``return``).

    Nothing is sent here: the rows commit (or roll back) with the change they report.
    """
    if event_type not in EVENTS:
        raise ValueError(
            gettext("unknown webhook event %(event_type)s", event_type=repr(event_type))
        )
    endpoints = [
        endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
        )
        if event_type in (endpoint.events or ())
    ]
    if not endpoints:
        return []
    now = utcnow()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "occurred_at": _timestamp(now),
            "data": {"order": order_data(order), **(extra or {})},
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    deliveries = [
        WebhookDelivery(
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            body=body,
            order=order,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
        )
        for endpoint in endpoints
    ]
    session.add_all(deliveries)
    session.info[OUTBOX_DIRTY] = True  # the outbox's runtime delivers these too
    return deliveries


def resend(session: Session, delivery_ids: Iterable[Any], actor: User) -> int:
    """Queue deliveries again for a new round of attempts (same event id and body).

    A delivery being posted right now is left alone (it would go out twice). Commits;
    returns how many were queued again.
    """
    _require_admin(actor)
    return requeue(session, WebhookDelivery, delivery_ids)
