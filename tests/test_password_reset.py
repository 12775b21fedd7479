"""Password reset by e-mail, received by a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage, User
from console.notify.dispatcher import deliver_due
from tests.factories import StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import csrf_token_from

pytestmark = pytest.mark.settings(**mail_relay("smtp"))

NEW_PASSWORD = "a brand new passphrase for the console"
OTHER_PASSWORD = "yet another passphrase nobody knows"


@pytest.fixture
def smtp(module_smtp_server):
    """The module's SMTP server, emptied for this test."""
    module_smtp_server.messages.clear()
    return module_smtp_server


def mail_text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def deliver_and_expect(smtp, count: int) -> None:
    """Deliver the outbox as a worker would; the relay then holds exactly ``count`` mails.

    Delivery is synchronous and the test relay stores a message before it answers
    "250", so there is nothing to wait for once ``deliver_due`` returns.
    """
    deliver_due()
    assert len(smtp.received) == count, smtp.received


def account(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


def request_reset(client, email: str) -> None:
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    response = client.post("/reset", data={"email": email, "csrf_token": token})
    assert response.status_code == 200


def reset_link(message) -> str:
    return re.search(r"(http://console\.test/reset/\S+)", mail_text(message)).group(1)


def choose_password(client, path: str, password: str):
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    return client.post(
        path, data={"password": password, "password_confirm": password, "csrf_token": token}
    )


def test_reset_mail_link_works_once(client, auth, smtp):
    StaffFactory(email="clerk@staff.test", role="clerk")
    request_reset(client, "clerk@staff.test")
    request_reset(client, "nobody@staff.test")
    deliver_and_expect(smtp, 1)
    # Nothing is sent for an unknown address: the outbox only ever held the clerk's
    # message.
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage.recipient)).all() == ["clerk@staff.test"]
    message = smtp.received[0]
    assert message["To"] == "clerk@staff.test"
    path = urlsplit(reset_link(message)).path

    assert client.get(path).status_code == 200
    assert choose_password(client, path, NEW_PASSWORD).status_code == 302
    assert account("clerk@staff.test").verify_and_update_password(NEW_PASSWORD)

    # The token is bound to the old password: used once, it is dead.
    client.delete_cookie("session", domain="console.test")
    again = client.get(path, follow_redirects=True)
    assert "Invalid reset password token" in again.get_data(as_text=True)
    choose_password(client, path, OTHER_PASSWORD)
    assert account("clerk@staff.test").verify_and_update_password(NEW_PASSWORD)
    assert not account("clerk@staff.test").verify_and_update_password(OTHER_PASSWORD)
    assert auth.login("clerk@staff.test", NEW_PASSWORD).status_code == 302


def test_weak_password_is_refused_on_reset(client, smtp):
    StaffFactory(email="clerk@staff.test", role="clerk")
    request_reset(client, "clerk@staff.test")
    deliver_and_expect(smtp, 1)
    path = urlsplit(reset_link(smtp.received[0])).path
    response = choose_password(client, path, "password1234")
    assert response.status_code == 200
    assert not account("clerk@staff.test").verify_and_update_password("password1234")


@pytest.mark.settings(MAIL_SERVER=None)
def test_reset_mail_waits_in_the_outbox_with_its_link_hidden_from_readers(app, client, auth):
    """Without a relay the reset mail waits in the outbox; managers cannot read its link."""
    from console.models import OutboxMessage

    StaffFactory(email="forgetful@staff.test", role="clerk")
    page = client.get("/reset").get_data(as_text=True)
    client.post(
        "/reset", data={"email": "forgetful@staff.test", "csrf_token": csrf_token_from(page)}
    )
    message = db.session.scalar(select(OutboxMessage))
    assert message.template.startswith("security/")
    assert message.status == "pending" and "/reset/" in message.body_text
    auth.login_as("manager")
    details = client.get(f"/admin/notification/details/?id={message.id}").get_data(as_text=True)
    assert "forgetful@staff.test" in details
    assert "/reset/" not in details
    assert "shown to nobody but its recipient" in details
