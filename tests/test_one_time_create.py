"""A create form submitted twice creates one record, and lands on it the second time."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, Order, OutboxMessage
from tests.factories import StaffFactory, catalogue
from tests.helpers import STAFF_PASSWORD, Auth, alerts, count_rows, hidden_inputs

CUSTOMER = {"first_name": "Marie", "last_name": "Curie", "email": "marie@example.com"}


@pytest.fixture
def clerk(auth):
    return auth.login_as("clerk")


def opened_form(client, url: str) -> dict[str, str]:
    """The hidden fields of the form at ``url`` as a browser holds them (token included)."""
    page = client.get(url)
    assert page.status_code == 200
    fields = hidden_inputs(page.get_data(as_text=True))
    assert fields.get("submission"), "the create form carries no one-time token"
    return fields


def test_the_same_customer_form_twice_creates_one_customer(client, clerk):
    form = {**opened_form(client, "/admin/customer/new/"), **CUSTOMER}
    first = client.post("/admin/customer/new/", data=form)
    assert first.status_code == 302
    customer = db.session.scalar(select(Customer))

    second = client.post("/admin/customer/new/", data=form, follow_redirects=True)
    assert second.status_code == 200
    assert second.request.path == "/admin/customer/details/"
    assert second.request.args["id"] == str(customer.id)
    assert "already submitted" in alerts(second.get_data(as_text=True))
    assert count_rows(Customer) == 1


def test_the_same_order_form_twice_creates_one_order_and_one_mail(client, clerk):
    customer, products = catalogue({"A": 5})
    form = {
        **opened_form(client, "/admin/order/new/"),
        "customer": str(customer.id),
        "lines-0-product": str(products["A"].id),
        "lines-0-quantity": "2",
    }
    assert client.post("/admin/order/new/", data=form).status_code == 302
    second = client.post("/admin/order/new/", data=form)
    order = db.session.scalar(select(Order))
    assert second.headers["Location"].endswith(f"/admin/order/details/?id={order.id}")
    assert count_rows(Order) == 1
    assert db.session.scalars(select(OutboxMessage.template)).all() == ["order_received"]


def test_a_refused_form_keeps_its_token_for_the_corrected_submission(client, clerk):
    form = {**opened_form(client, "/admin/customer/new/"), **CUSTOMER}
    refused = client.post("/admin/customer/new/", data={**form, "first_name": "  "})
    assert refused.status_code == 200
    assert hidden_inputs(refused.get_data(as_text=True))["submission"] == form["submission"]
    assert client.post("/admin/customer/new/", data=form).status_code == 302
    assert count_rows(Customer) == 1


def test_each_opened_form_gets_its_own_token(client, clerk):
    first = opened_form(client, "/admin/customer/new/")["submission"]
    assert opened_form(client, "/admin/customer/new/")["submission"] != first


def test_two_concurrent_submissions_of_one_form_create_one_record(app):
    StaffFactory(email="clerk@staff.test", role="clerk")
    clients = [app.test_client() for _ in range(2)]
    assert Auth(clients[0]).login("clerk@staff.test", STAFF_PASSWORD).status_code == 302
    # The same browser sending the form twice: one session (and CSRF token) for both.
    cookie = clients[0].get_cookie(app.config["SESSION_COOKIE_NAME"], domain="console.test")
    clients[1].set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    form = {**opened_form(clients[0], "/admin/customer/new/"), **CUSTOMER}
    barrier = threading.Barrier(2, timeout=30)
    answers: list[int] = []
    errors: list[BaseException] = []

    def submit(client) -> None:
        try:
            barrier.wait()
            answers.append(client.post("/admin/customer/new/", data=form).status_code)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert answers == [302, 302]
    assert count_rows(Customer) == 1
