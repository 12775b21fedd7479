"""The order pages offer only what can apply: Approve under four-eyes, pending list actions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.database import db
from console.models import Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import form_token, parse, text_of


@pytest.fixture
def orders(app):
    manager = StaffFactory(email="manager@staff.test", role="manager")
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    customer = CustomerFactory()
    product = ProductFactory(sku="A", unit_price=Decimal("5.00"), stock=10)
    return {
        "own": OrderFactory(customer=customer, lines={product: 1}, actor=manager),
        "clerks": OrderFactory(customer=customer, lines={product: 1}, actor=clerk),
    }


def approve_button(client, order: Order):
    soup = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    form = soup.find(id="transition-approve")
    assert form is not None
    return form.find("button"), soup


def test_approve_is_disabled_with_the_reason_on_the_managers_own_order(client, auth, orders):
    auth.login("manager@staff.test")
    button, soup = approve_button(client, orders["own"])
    assert button.has_attr("disabled")
    reason = soup.find(id=button["aria-describedby"])
    assert "four-eyes" in text_of(reason) and "taken by you" in text_of(reason)


def test_approve_is_enabled_on_someone_elses_order(client, auth, orders):
    auth.login("manager@staff.test")
    button, soup = approve_button(client, orders["clerks"])
    assert not button.has_attr("disabled")
    assert soup.find(id="approve-refusal") is None


@pytest.mark.settings(ORDERS_FOUR_EYES=False)
def test_approve_is_enabled_on_own_order_without_the_rule(client, auth, orders):
    auth.login("manager@staff.test")
    button, _ = approve_button(client, orders["own"])
    assert not button.has_attr("disabled")


def action_names(html: str) -> set[str]:
    """The list actions a page offers (its action menu)."""
    soup = parse(html)
    return {
        link["onclick"].split("'")[1]
        for link in soup.select("a[onclick^='return modelActions.execute']")
    }


def test_pending_list_does_not_offer_mark_delivered(client, auth, orders):
    auth.login_as("admin")
    pending = action_names(client.get("/admin/pending/").get_data(as_text=True))
    assert pending == {"approve", "reject", "cancel"}
    assert "deliver" in action_names(client.get("/admin/order/").get_data(as_text=True))
    token = form_token(client, "/admin/pending/")
    forged = client.post(
        "/admin/pending/action/",
        data={"csrf_token": token, "action": "deliver", "rowid": [str(orders["clerks"].id)]},
    )
    assert forged.status_code == 403
    db.session.expire_all()
    assert db.session.get(Order, orders["clerks"].id).status == "pending"
