"""The signed, expiring link to a customer's order page, carried by every order e-mail.

The token is the order's id and its customer's id, signed with the app's
``SECRET_KEY`` under a salt of its own (no other signed value of the app is one) by
itsdangerous, and dated: it is refused after ``ORDER_LINK_MAX_AGE``. Whoever holds the
link sees that one order, as whoever holds the e-mail does; a link whose order changed
customer since stops working.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from console.models import Order
from console.security.links import external_url
from console.services.ids import row_id

SALT = "console.customer-order-page"
ENDPOINT = "customer_page.show"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(order: Order) -> str:
    """A fresh token naming ``order`` (valid for ``ORDER_LINK_MAX_AGE`` from now)."""
    return _serializer().dumps({"o": order.id, "c": order.customer_id})


def link_for(order: Order) -> str:
    """The absolute link to ``order``'s page, under ``CONSOLE_BASE_URL``."""
    return external_url(ENDPOINT, token=token_for(order))


def order_from(session: Session, token: str) -> Order | None:
    """The order ``token`` names, or None for a tampered, expired or dead link."""
    max_age = int(current_app.config["ORDER_LINK_MAX_AGE"].total_seconds())
    try:
        data = _serializer().loads(token, max_age=max_age)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    order_id, customer_id = row_id(data.get("o")), row_id(data.get("c"))
    if order_id is None or customer_id is None:
        return None
    order = session.get(Order, order_id)
    if order is None or order.customer_id != customer_id:
        return None
    return order
