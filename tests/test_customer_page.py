"""The customer's order page, reached from the signed link in the order e-mails.

Through the test client on SQLite and PostgreSQL; expiry follows the controlled clock.
The browser journey from a mail received by the real SMTP server is in
tests/test_customer_page_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent, Order, OutboxMessage, WebhookDelivery, WebhookEndpoint
from console.services import workflow
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import alerts, csrf_token_from, parse, text_of

LINK = re.compile(r"http://console\.test/order-status/[A-Za-z0-9_.\-]+")


def place(customer=None, products=None, quantity: int = 2) -> Order:
    if customer is None:
        customer, products = catalogue({"KETTLE": 5}, price="12.50")
    return OrderFactory(customer=customer, lines={products["KETTLE"]: quantity})


def link_in_mail(order: Order, template: str = "order_received") -> str:
    db.session.expire_all()
    mail = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.order_id == order.id, OutboxMessage.template == template
        )
    ).one()
    [text_link] = LINK.findall(mail.body_text)
    html_link = parse(mail.body_html).select_one("#order-page-link")["href"]
    assert html_link.startswith("http://console.test/order-status/")
    return text_link


def path_of(link: str) -> str:
    return link.removeprefix("http://console.test")


def status_of(order: Order) -> str:
    db.session.expire_all()
    return db.session.get(Order, order.id).status


def test_the_link_in_the_mail_shows_the_order(client):
    order = place()
    response = client.get(path_of(link_in_mail(order)))
    assert response.status_code == 200
    page = parse(response.text)
    assert order.number in text_of(page.h1)
    assert text_of(page.select_one("#order-status")) == "Pending"
    assert "25.00" in text_of(page.select_one("#order-total"))
    assert "KETTLE" in text_of(page.select_one("#order-lines"))
    assert page.find("script") is None
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_link_shows_its_own_order_only(client):
    first = place()
    second = place(first.customer, {"KETTLE": first.lines[0].product}, quantity=1)
    text = client.get(path_of(link_in_mail(second))).text
    assert second.number in text and first.number not in text


def not_found_page(client) -> str:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    return response.text


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token[:10],
        lambda token: "x",
    ],
    ids=["signature", "truncated", "garbage"],
)
def test_a_tampered_link_answers_the_plain_404_page(client, mangle):
    order = place()
    token = path_of(link_in_mail(order)).rsplit("/", 1)[1]
    response = client.get(f"/order-status/{mangle(token)}")
    assert response.status_code == 404
    assert response.text == not_found_page(client)
    refused = client.post(f"/order-status/{mangle(token)}/cancel", data={})
    assert refused.status_code in (400, 404)
    assert status_of(order) == "pending"


@pytest.mark.settings(ORDER_LINK_MAX_AGE=dt.timedelta(days=3))
def test_an_expired_link_answers_404(client, clock):
    order = place()
    path = path_of(link_in_mail(order))
    clock.shift(3 * 86400 - 60)
    assert client.get(path).status_code == 200
    clock.shift(120)
    response = client.get(path)
    assert response.status_code == 404
    assert response.text == not_found_page(client)


def test_a_link_dies_when_the_order_changes_customer(client):
    order = place()
    path = path_of(link_in_mail(order))
    other = type(order.customer)(first_name="Bo", last_name="B", email="bo@example.com")
    db.session.add(other)
    db.session.flush()
    db.session.get(Order, order.id).customer = other
    db.session.commit()
    assert client.get(path).status_code == 404


def cancel(client, path: str, **data):
    token = csrf_token_from(client.get(path).text)
    return client.post(f"{path}/cancel", data={"csrf_token": token, **data})


def test_the_customer_cancels_a_pending_order(client):
    db.session.add(
        WebhookEndpoint(url="https://93.184.215.14/h", events=["order.cancelled"], secret="s")
    )
    db.session.commit()
    order = place()
    path = path_of(link_in_mail(order))

    response = cancel(client, path)

    assert response.status_code == 303
    assert status_of(order) == "cancelled"
    page = client.get(path)
    assert text_of(parse(page.text).select_one("#order-status")) == "Cancelled"
    assert "Your order is cancelled" in alerts(page.text)
    assert parse(page.text).select_one("#cancel-order") is None
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "cancel", AuditEvent.record_id == order.id)
    ).one()
    assert (event.actor_email, event.actor_id) == ("customer ada@example.com", None)
    assert event.changes["status"] == ["pending", "cancelled"]
    link_in_mail(order, "order_cancelled")  # the cancellation mail carries the link too
    assert [d.event_type for d in db.session.scalars(select(WebhookDelivery))] == [
        "order.cancelled"
    ]


def test_a_cancel_without_the_form_token_changes_nothing(client):
    order = place()
    path = path_of(link_in_mail(order))
    client.get(path)
    response = client.post(f"{path}/cancel", data={})
    assert response.status_code == 400
    assert status_of(order) == "pending"
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cancel")).all()


def test_an_approved_order_is_not_cancelled_by_the_customer(client):
    order = place()
    path = path_of(link_in_mail(order))
    token = csrf_token_from(client.get(path).text)
    workflow.approve(db.session, order.id, StaffFactory(email="m@staff.test", role="manager"))
    response = client.post(f"{path}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "only pending orders can be cancelled" in alerts(response.text)
    assert status_of(order) == "approved"
    assert parse(response.text).select_one("#cancel-order") is None


@pytest.mark.settings(ORDER_PAGE_RATE_LIMIT="3 per minute")
def test_the_page_is_rate_limited(client):
    order = place()
    path = path_of(link_in_mail(order))
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
    assert client.get(path).status_code == 429
    assert client.get("/order-status/guessing").status_code == 429
