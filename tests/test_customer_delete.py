"""Deleting a customer who has orders is refused with the reason and what to do instead."""

from __future__ import annotations

import pytest

from console.database import db
from console.models import Customer
from console.services.customers import ensure_deletable
from console.services.errors import DomainError
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.helpers import alerts, count_rows, form_token


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


@pytest.fixture
def marie():
    customer = CustomerFactory(first_name="Marie", last_name="Curie", email="marie@example.com")
    product = ProductFactory(sku="RAD-1", stock=50)
    for _ in range(7):
        OrderFactory(customer=customer, lines={product: 1})
    return customer


def test_delete_of_a_customer_with_orders_says_why(client, manager, marie):
    token = form_token(client, "/admin/customer/")
    response = client.post(
        "/admin/customer/delete/",
        data={"id": marie.id, "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    shown = alerts(response.get_data(as_text=True))
    assert "Cannot delete Marie Curie: this customer has 7 orders" in shown
    assert "Keep the record instead" in shown
    assert "database refused" not in shown
    assert count_rows(Customer) == 1


def test_bulk_delete_refuses_the_customer_with_orders_only(client, manager, marie):
    CustomerFactory(first_name="Pierre", last_name="Curie", email="pierre@example.com")
    token = form_token(client, "/admin/customer/")
    response = client.post(
        "/admin/customer/action/",
        data={
            "action": "delete",
            "rowid": [str(c.id) for c in Customer.query],
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert "Cannot delete Marie Curie" in alerts(response.get_data(as_text=True))
    db.session.expire_all()
    assert [c.email for c in Customer.query] == ["marie@example.com"]


def test_customer_without_orders_is_deleted(client, manager):
    customer = CustomerFactory()
    token = form_token(client, "/admin/customer/")
    client.post("/admin/customer/delete/", data={"id": customer.id, "csrf_token": token})
    assert count_rows(Customer) == 0


def test_the_rule_lives_in_the_service(app):
    customer = CustomerFactory(first_name="Marie", last_name="Curie")
    OrderFactory(customer=customer, lines={ProductFactory(sku="RAD-1"): 1})
    with pytest.raises(DomainError, match="this customer has 1 order,"):
        ensure_deletable(db.session, customer)
