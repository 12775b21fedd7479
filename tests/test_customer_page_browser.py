"""The customer's order page in Chromium, from the link of a mail the real SMTP server
(aiosmtpd on loopback) received: the page shows the order, the customer cancels it
while it is pending, and a tampered link answers 404.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent, Order
from console.notify.dispatcher import deliver_due
from tests.factories import OrderFactory, catalogue
from tests.fixtures.servers import mail_relay

pytestmark = [pytest.mark.postgres, pytest.mark.settings(**mail_relay())]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def received_link(smtp_server, live_server: str) -> str:
    """The order page's link in the plain-text part of the one mail received."""
    [(_, message)] = smtp_server.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    [link] = re.findall(re.escape(live_server) + r"/order-status/\S+", text)
    return link


def test_the_customer_follows_the_mail_link_and_cancels(app, page, live_server, smtp_server):
    # A context of its own: the test's was bound to the address before the server had
    # its port, and the mail's link must lead to this server.
    with app.app_context():
        customer, products = catalogue({"KETTLE": 5}, price="12.50")
        order = OrderFactory(customer=customer, lines={products["KETTLE"]: 2})
        number, order_id = order.number, order.id
        assert len(deliver_due().sent) == 1
    link = received_link(smtp_server, live_server)

    page.goto(link)
    expect(page.locator("h1")).to_have_text(f"Order {number}")
    expect(page.locator("#order-status")).to_have_text("Pending")
    expect(page.locator("#order-total")).to_contain_text("25.00")

    page.click("#cancel-order")
    expect(page.locator("#order-status")).to_have_text("Cancelled")
    expect(page.locator(".alert-success")).to_contain_text("Your order is cancelled")
    expect(page.locator("#cancel-order")).to_have_count(0)

    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "cancelled"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cancel")).one()
    assert event.actor_email == "customer ada@example.com"

    tampered = link[:-3] + ("xyz" if not link.endswith("xyz") else "abc")
    response = page.goto(tampered)
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
