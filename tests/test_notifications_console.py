"""The Notifications view: who sees the outbox, what it shows, and Resend."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select, update

from console.database import db
from console.models import OutboxMessage
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import form_token


@pytest.fixture
def message(app):
    customer, products = catalogue({"A": 10})
    order = OrderFactory(
        customer=customer,
        lines={products["A"]: 2},
        actor=StaffFactory(email="taker@staff.test", role="clerk"),
    )
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.order_id == order.id))


@pytest.mark.parametrize(
    ("role", "code"), [("admin", 200), ("manager", 200), ("clerk", 403), ("viewer", 403)]
)
def test_only_notification_readers_open_it(client, auth, message, role, code):
    auth.login_as(role)
    assert client.get("/admin/notification/").status_code == code
    assert client.get(f"/admin/notification/details/?id={message.id}").status_code == code
    menu = client.get("/admin/").get_data(as_text=True)
    assert ("/admin/notification/" in menu) is (code == 200)


def test_anonymous_is_sent_to_login(client, message):
    response = client.get("/admin/notification/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_list_and_details_show_the_message(client, auth, message):
    auth.login_as("manager")
    listing = unescape(client.get("/admin/notification/").get_data(as_text=True))
    assert "ada@example.com" in listing and message.subject in listing and "pending" in listing
    details = unescape(
        client.get(f"/admin/notification/details/?id={message.id}").get_data(as_text=True)
    )
    assert "2 x Product A (A)" in details  # the text part
    assert '<iframe sandbox=""' in details  # the HTML part, sandboxed
    assert client.get("/admin/notification/new/").status_code == 403
    assert client.get(f"/admin/notification/edit/?id={message.id}").status_code == 403


def test_resend_puts_a_failed_message_back_in_the_queue(client, auth, message):
    db.session.execute(
        update(OutboxMessage).values(status="failed", attempts=8, last_error="SMTP down")
    )
    db.session.commit()
    auth.login_as("manager")
    token = form_token(client, "/admin/notification/")
    response = client.post(
        "/admin/notification/action/",
        data={"csrf_token": token, "action": "resend", "rowid": [str(message.id)]},
        follow_redirects=True,
    )
    assert "1 message(s) queued to be sent again." in unescape(response.get_data(as_text=True))
    db.session.expire_all()
    row = db.session.get(OutboxMessage, message.id)
    assert (row.status, row.attempts) == ("pending", 0)


def test_resend_forged_by_a_clerk_is_refused(client, auth, message):
    db.session.execute(update(OutboxMessage).values(status="failed", attempts=8))
    db.session.commit()
    auth.login_as("clerk")
    token = form_token(client, "/admin/order/")
    response = client.post(
        "/admin/notification/action/",
        data={"csrf_token": token, "action": "resend", "rowid": [str(message.id)]},
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "failed"
