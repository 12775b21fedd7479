"""Issue 15's "done when": a storefront, a manager, a clerk and the customer, end to end.

A storefront that knows only the API document's address and a token
(``tests/storefront.py``) creates a customer and an order of three lines with both
addresses. Its first ``POST`` times out for real (the server is held on a lock of the
orders table while the client gives up), and the retry with the same
``Idempotency-Key`` answers the one order the first request made. A manager approves
and a clerk ships in the console's pages (Chromium); the storefront's HTTP receiver on
loopback gets ``order.created``, ``order.approved`` and ``order.shipped``, each signed
as docs/webhooks.md says. The customer's e-mail reaches the SMTP server (aiosmtpd);
the link in it opens the order's page in Chromium, which shows the figures the API
gives. Server: the suite's live server on PostgreSQL (``LOCK TABLE`` holds the intake).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from playwright.sync_api import expect
from sqlalchemy import text

from console.database import db
from console.models import Order
from console.notify import webhooks as webhook_transport
from console.notify.dispatcher import deliver_due
from console.permissions import (
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    ORDERS_READ,
    ORDERS_WRITE,
    PRODUCTS_READ,
)
from console.services import webhooks
from tests.factories import ProductFactory, StaffFactory, api_secret
from tests.fixtures.servers import mail_relay
from tests.helpers import STAFF_PASSWORD, count_rows
from tests.storefront import Storefront

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.settings(
        **mail_relay(), WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True
    ),
]

EVENTS = ["order.created", "order.approved", "order.shipped"]
ADDRESS = {"line1": "12 St James's Square", "postal_code": "SW1Y 4JH", "city": "London"}
FIRST_TRY_SECONDS = 3
"""The storefront's time-out on its first try: the request is held on a lock meanwhile."""


@contextmanager
def orders_table_locked() -> Iterator[object]:
    """Hold the orders table against inserts (another connection's ``LOCK TABLE``);
    yields a function counting the requests waiting on it. Released on leaving."""
    with db.engine.connect() as connection:
        connection.execute(text("LOCK TABLE sales_order IN EXCLUSIVE MODE"))

        def waiting() -> int:
            return connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE relation = 'sales_order'::regclass AND NOT granted"
                )
            )

        try:
            yield waiting
        finally:
            connection.rollback()


@contextmanager
def signed_in(browser, live_server: str, email: str):
    """A browser page of its own, signed in through the login form as ``email``."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")
    try:
        yield page
    finally:
        context.close()


def money(value: str) -> re.Pattern[str]:
    """An amount as the order page writes it for an English-speaking customer (€1,234.56)."""
    return re.compile(rf"^{re.escape(format_currency(Decimal(value), 'EUR', locale='en'))}$")


def test_storefront_order_to_signed_webhooks_and_the_customers_page(
    app, live_server, browser, smtp_server, webhook_receiver
):
    admin = StaffFactory(email="admin@staff.test", role="admin")
    storefront_owner = StaffFactory(email="storefront@staff.test", role="clerk")
    StaffFactory(email="manager@staff.test", role="manager")
    StaffFactory(email="shipper@staff.test", role="clerk")
    for sku, price in (("KETTLE", "12.50"), ("TEAPOT", "30.00"), ("MUG", "4.25")):
        ProductFactory(sku=sku, name=sku.title(), unit_price=Decimal(price), stock=20)
    endpoint = webhooks.create_endpoint(db.session, admin, url=webhook_receiver.url, events=EVENTS)
    webhook_receiver.secret = endpoint.secret
    token = api_secret(
        [CUSTOMERS_READ, CUSTOMERS_WRITE, PRODUCTS_READ, ORDERS_READ, ORDERS_WRITE],
        owner=storefront_owner,
    )

    shop = Storefront(f"{live_server}/api/v1/openapi.json", token)
    customer = shop.call(
        "customers.create",
        body={"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    ).expect(201)
    products = shop.call("products.list", query={"active": "true"}).expect(200)["items"]
    assert len(products) == 3
    body = {
        "customer_id": customer["id"],
        "lines": [
            {"product_id": product["id"], "quantity": quantity}
            for quantity, product in enumerate(products, start=1)
        ],
        "billing_address": {"name": "Grace Hopper", "country": "GB", **ADDRESS},
        "shipping_address": {"name": "Grace Hopper", "company": "Navy", "country": "US"}
        | {"line1": "1 Ship Lane", "postal_code": "20001", "city": "Washington"},
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}

    with orders_table_locked() as waiting:
        with pytest.raises(TimeoutError):
            shop.call("orders.create", body=body, headers=key, timeout=FIRST_TRY_SECONDS)
        # The client gave up while its request waits in the server, holding the key.
        assert waiting() == 1
    retried = shop.call("orders.create", body=body, headers=key)
    order = retried.expect(201)
    assert retried.headers["Idempotent-Replayed"] == "true"
    listed = shop.call("orders.list", query={"customer_id": customer["id"]}).expect(200)
    assert [item["id"] for item in listed["items"]] == [order["id"]]
    assert count_rows(Order) == 1
    assert (order["status"], len(order["lines"])) == ("pending", 3)

    with signed_in(browser, live_server, "manager@staff.test") as page:
        page.goto(f"/admin/pending/details/?id={order['id']}")
        page.click("#transition-approve button")
        expect(page.locator(".alert-success")).to_contain_text(f"Order {order['number']} approved.")
    with signed_in(browser, live_server, "shipper@staff.test") as page:
        page.goto(f"/admin/order/details/?id={order['id']}")
        page.fill("#ship-tracking", "TRK-0042")
        page.click("#transition-ship button")
        expect(page.locator(".alert-success")).to_contain_text(f"Order {order['number']} shipped.")

    assert len(webhook_transport.deliver_due().sent) == 3
    assert webhook_receiver.refused == []
    assert webhook_receiver.types() == EVENTS
    shipped = shop.call("orders.get", order_id=order["id"]).expect(200)
    assert (shipped["status"], shipped["tracking_number"]) == ("shipped", "TRK-0042")
    for event, status in zip(
        webhook_receiver.received, ["pending", "approved", "shipped"], strict=True
    ):
        data = event.body["data"]["order"]
        assert (data["number"], data["status"], data["total"]) == (
            order["number"],
            status,
            shipped["total"],
        )
        assert [(line["sku"], line["quantity"]) for line in data["lines"]] == [
            (line["sku"], line["quantity"]) for line in shipped["lines"]
        ]

    assert len(deliver_due().sent) == 3  # received, approved, shipped
    mails = [message for _, message in smtp_server.messages]
    assert {message["To"] for message in mails} == {"grace@example.com"}
    text_of_last = mails[-1].get_body(preferencelist=("plain",)).get_content()
    assert "TRK-0042" in text_of_last
    [link] = re.findall(re.escape(live_server) + r"/order-status/\S+", text_of_last)

    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(link)
        expect(page.locator("h1")).to_have_text(f"Order {shipped['number']}")
        expect(page.locator("#order-status")).to_have_text(shipped["status"].capitalize())
        expect(page.locator("#tracking-number")).to_have_text("TRK-0042")
        expect(page.locator("#order-total")).to_have_text(money(shipped["total"]))
        rows = page.locator("#order-lines tbody tr")
        expect(rows).to_have_count(3)
        for index, line in enumerate(shipped["lines"]):
            expect(rows.nth(index).locator("td")).to_have_text(
                [
                    f"{line['name']} {line['sku']}",
                    str(line["quantity"]),
                    money(line["unit_price"]),
                    money(line["line_total"]),
                ]
            )
        expect(page.locator("#shipping-address")).to_contain_text("1 Ship Lane")
        expect(page.locator("#billing-address")).to_contain_text(ADDRESS["line1"])
    finally:
        context.close()
