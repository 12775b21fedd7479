"""Records and signed-in clients for the audit and concurrency tests."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent, Customer, Order, OrderLine, Product
from console.services.orders import prepare_order
from tests.helpers import Auth, accounts_datastore, create_staff, csrf_token_from


def events(**where) -> list[AuditEvent]:
    """Events matching ``where``, oldest first, as stored."""
    db.session.expire_all()
    query = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def make_customer(**overrides) -> Customer:
    values = {"first_name": "Ada", "last_name": "Costa", "email": "ada@example.com"}
    values.update(overrides)
    customer = Customer(**values)
    db.session.add(customer)
    db.session.commit()
    return customer


def make_product(sku: str = "SKU-1", price: str = "10.00", stock: int = 5) -> Product:
    product = Product(sku=sku, name=f"Item {sku}", unit_price=Decimal(price), stock=stock)
    db.session.add(product)
    db.session.commit()
    return product


def make_order(customer: Customer, *lines: tuple[Product, int]) -> Order:
    order = Order(customer=customer)
    for product, quantity in lines:
        order.lines.append(OrderLine(product=product, quantity=quantity))
    db.session.add(order)
    prepare_order(db.session, order, None, created=True)
    db.session.commit()
    return order


def staff_email(role: str) -> str:
    # example.com: e-mail validation refuses the special-use ".test" domain.
    return f"{role}@example.com"


class Browser:
    """A test client whose every request runs in a fresh app context, as in production.

    The ``app`` fixture keeps one app context open for the whole test, and Flask reuses
    it for each request, so ``g`` (where Flask-Login caches the signed-in person) and
    the database session would be shared between two clients. A fresh context per
    request gives each request its own ``g`` and session, like a real server does.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()

    def get(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.post(*args, **kwargs)


def signed_in(app: Flask, role: str) -> Browser:
    """A new browser (its own cookies) signed in as the staff member holding ``role``."""
    email = staff_email(role)
    if accounts_datastore().find_user(email=email) is None:
        create_staff(email, role)
    client = Browser(app)
    response = Auth(client).login(email)
    assert response.status_code == 302, "sign-in failed"
    return client


def form_fields(html: str) -> dict[str, str]:
    """The values of a page's inputs (enough to post an edit form back)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        unticked = 'type="checkbox"' in tag and "checked" not in tag
        if name and not unticked and name.group(1) not in {"_add_another", "_continue_editing"}:
            fields[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[name] = body.strip()
    fields["csrf_token"] = csrf_token_from(html)
    return fields


def open_form(client: FlaskClient, url: str) -> dict[str, str]:
    """GET an edit page and return its form's values, as a browser would hold them."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return form_fields(response.get_data(as_text=True))


def flashes(response) -> str:
    """The text of the page's alert messages."""
    html = response.get_data(as_text=True)
    return " ".join(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m))
        for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)
    )
