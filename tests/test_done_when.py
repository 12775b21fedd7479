"""The issue's acceptance path, through the console's real forms and a real SMTP server.

A clerk takes an order in the console; it reaches the manager's pending list; the
manager approves it; stock drops; the customer's inbox receives the approval. The same
holds when the mail server is down at the moment of approval.
"""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, Product
from console.notify.dispatcher import deliver_due
from tests.factories import catalogue
from tests.fixtures.servers import mail_relay
from tests.helpers import form_token, hidden_inputs

pytestmark = pytest.mark.settings(**mail_relay(), OUTBOX_RETRY_BASE_SECONDS=0)


@pytest.mark.parametrize("smtp_down_at_approval", [False, True])
def test_clerk_order_to_customer_inbox(client, auth, app, smtp_server, smtp_down_at_approval):
    customer, products = catalogue({"A": 10, "B": 4}, price="12.50")

    auth.login_as("clerk")
    token = form_token(client, "/admin/order/new/")
    response = client.post(
        "/admin/order/new/",
        data={
            "csrf_token": token,
            "customer": str(customer.id),
            "coupon_code": "",
            "lines-0-product": str(products["A"].id),
            "lines-0-quantity": "3",
            "lines-1-product": str(products["B"].id),
            "lines-1-quantity": "1",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    order = db.session.scalar(select(Order))
    assert order is not None, unescape(response.get_data(as_text=True))[:3000]
    assert (order.status, order.total) == ("pending", 50)
    deliver_due()
    assert [m["Subject"] for _, m in smtp_server.messages] == [
        f"Our shop: we received your order {order.number}"
    ]
    auth.logout()

    auth.login_as("manager")
    pending = client.get("/admin/pending/").get_data(as_text=True)
    assert order.number in pending
    details = client.get(f"/admin/pending/details/?id={order.id}").get_data(as_text=True)
    assert 'id="transition-approve"' in details
    version = hidden_inputs(details)["version"]
    token = form_token(client, f"/admin/pending/details/?id={order.id}")

    if smtp_down_at_approval:
        smtp_server.stop()
    response = client.post(
        f"/admin/pending/{order.id}/do/approve/",
        data={"csrf_token": token, "version": version},
        follow_redirects=True,
    )
    assert f"Order {order.number} approved." in unescape(response.get_data(as_text=True))
    db.session.expire_all()
    assert dict(db.session.execute(select(Product.sku, Product.stock)).all()) == {"A": 7, "B": 3}
    assert order.number not in client.get("/admin/pending/").get_data(as_text=True)

    report = deliver_due()
    if smtp_down_at_approval:
        assert report.retried and not report.sent
        smtp_server.start()
        assert len(deliver_due().sent) == 1
    assert deliver_due().attempted == 0
    confirmations = [m for _, m in smtp_server.messages if "is confirmed" in m["Subject"]]
    assert len(confirmations) == 1
    text = confirmations[0].get_body(preferencelist=("plain",)).get_content()
    assert confirmations[0]["To"] == "ada@example.com"
    assert order.number in text and "3 x Product A (A)" in text and "Total: €50.00" in text
