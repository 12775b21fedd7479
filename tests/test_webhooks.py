"""Signed webhooks of order events, posted to a real HTTP receiver on loopback.

The receiver (``tests/webhook_receiver.py``) checks each signature as docs/webhooks.md
tells receivers to. Retries follow the controlled clock (``clock``), never sleeps.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, DeliveryStatus, Product, WebhookDelivery, WebhookEndpoint
from console.notify import webhooks as transport
from console.services import webhooks, workflow
from console.services.errors import DomainError
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import count_rows

LOOPBACK = {"WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}
RETRY = {"OUTBOX_RETRY_BASE_SECONDS": 60, "OUTBOX_RETRY_MAX_SECONDS": 3600}


@pytest.fixture
def admin():
    return StaffFactory(email="admin@staff.test", role="admin")


@pytest.fixture
def manager():
    return StaffFactory(email="manager@staff.test", role="manager")


def register(admin, receiver, events=tuple(webhooks.EVENTS)) -> WebhookEndpoint:
    endpoint = webhooks.create_endpoint(db.session, admin, url=receiver.url, events=events)
    receiver.secret = endpoint.secret
    return endpoint


def deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def an_order(stock: int = 5, quantity: int = 2):
    """An order of ``quantity`` kettles at 12.50 (the shop is made by the first call)."""
    customer = db.session.scalar(select(Customer))
    if customer is None:
        customer, products = catalogue({"KETTLE": stock}, price="12.50")
        kettle = products["KETTLE"]
    else:
        kettle = db.session.scalar(select(Product))
    return OrderFactory(customer=customer, lines={kettle: quantity})


@pytest.mark.settings(**LOOPBACK)
def test_order_events_reach_the_receiver_signed_and_once(app, admin, manager, webhook_receiver):
    register(admin, webhook_receiver)
    order = an_order()
    workflow.approve(db.session, order.id, manager)

    report = transport.deliver_due()

    assert len(report.sent) == 2 and webhook_receiver.refused == []
    assert webhook_receiver.types() == ["order.created", "order.approved"]
    approved = webhook_receiver.received[1]
    assert approved.headers["Console-Webhook-Id"] == approved.event_id
    assert approved.headers["Console-Webhook-Event"] == "order.approved"
    data = approved.body["data"]["order"]
    assert (data["number"], data["status"]) == (order.number, "approved")
    assert data["customer"]["email"] == "ada@example.com"
    assert [(line["sku"], line["quantity"], line["line_total"]) for line in data["lines"]] == [
        ("KETTLE", 2, "25.00")
    ]
    assert Decimal(data["total"]) == Decimal("25.00")
    assert approved.body["occurred_at"].endswith("Z")
    # Delivered rows are never claimed again: a second round posts nothing.
    assert transport.deliver_due().attempted == 0
    assert len(webhook_receiver.received) == 2
    assert [row.status for row in deliveries()] == ["delivered", "delivered"]
    assert [row.last_status_code for row in deliveries()] == [204, 204]


@pytest.mark.settings(**LOOPBACK)
def test_only_the_events_an_endpoint_wants_are_written_for_it(
    app, admin, manager, webhook_receiver
):
    register(admin, webhook_receiver, events=["order.approved"])
    order = an_order()
    assert deliveries() == []
    workflow.approve(db.session, order.id, manager)
    assert [row.event_type for row in deliveries()] == ["order.approved"]


@pytest.mark.settings(**LOOPBACK)
def test_a_rolled_back_transition_writes_no_event(app, admin, manager, webhook_receiver):
    register(admin, webhook_receiver)
    order = an_order(stock=1, quantity=3)  # not enough stock: approval is refused
    with pytest.raises(DomainError, match="Not enough stock"):
        workflow.approve(db.session, order.id, manager)
    assert [row.event_type for row in deliveries()] == ["order.created"]


@pytest.mark.settings(**LOOPBACK, **RETRY)
def test_deliveries_wait_while_the_receiver_is_down_then_go_once(
    app, admin, manager, webhook_receiver, clock
):
    register(admin, webhook_receiver)
    webhook_receiver.stop()
    order = an_order()
    workflow.approve(db.session, order.id, manager)

    first = transport.deliver_due()
    assert len(first.retried) == 2
    [created, approved] = deliveries()
    assert created.status == "pending" and created.attempts == 1
    assert "ConnectionRefusedError" in created.last_error
    # Backoff: nothing is due before the minute has passed.
    clock.shift(59)
    assert transport.deliver_due().attempted == 0

    webhook_receiver.start()
    clock.shift(2)
    assert len(transport.deliver_due().sent) == 2
    assert webhook_receiver.types() == ["order.created", "order.approved"]
    assert transport.deliver_due().attempted == 0
    assert len(webhook_receiver.received) == 2
    assert {row.status for row in deliveries()} == {"delivered"}
    assert db.session.get(WebhookEndpoint, created.endpoint_id).consecutive_failures == 0


@pytest.mark.settings(**LOOPBACK, **RETRY, WEBHOOK_MAX_FAILURES=3)
def test_an_endpoint_is_disabled_after_max_consecutive_failures(
    app, admin, manager, webhook_receiver, clock
):
    endpoint = register(admin, webhook_receiver)
    webhook_receiver.answer = 500
    for _ in range(3):
        an_order(stock=5, quantity=1)  # three order.created events

    report = transport.deliver_due()
    assert len(report.retried) == 3
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert (endpoint.active, endpoint.consecutive_failures) == (False, 3)
    assert endpoint.disabled_by_failures
    assert [row.last_status_code for row in deliveries()] == [500, 500, 500]
    assert "HTTP 500" in deliveries()[0].last_error

    # Disabled: later events are not written for it, its waiting deliveries are not posted.
    an_order(stock=5, quantity=1)
    clock.shift(3600)
    assert transport.deliver_due().attempted == 0
    assert len(deliveries()) == 3
    assert webhooks.disabled_endpoints(db.session) == [endpoint]

    # An admin turns it on again once the receiver is fixed: the waiting ones go out.
    webhook_receiver.answer = 200
    webhooks.update_endpoint(
        db.session,
        admin,
        endpoint,
        url=endpoint.url,
        events=endpoint.events,
        description=None,
        active=True,
    )
    assert len(transport.deliver_due().sent) == 3
    assert webhook_receiver.types() == ["order.created"] * 3
    assert webhooks.disabled_endpoints(db.session) == []


@pytest.mark.settings(**LOOPBACK)
def test_a_failed_delivery_is_resent_with_the_same_event(app, admin, webhook_receiver):
    register(admin, webhook_receiver)
    an_order()
    webhook_receiver.answer = 503
    [row] = deliveries()
    db.session.execute(
        WebhookDelivery.__table__.update().values(attempts=7)  # one attempt left
    )
    db.session.commit()
    assert len(transport.deliver_due().failed) == 1
    assert deliveries()[0].status == DeliveryStatus.FAILED
    assert transport.deliver_due().attempted == 0  # failed rows wait for a person

    webhook_receiver.answer = 204
    assert webhooks.resend(db.session, [row.id], admin) == 1
    assert len(transport.deliver_due().sent) == 1
    assert [event.event_id for event in webhook_receiver.received] == [row.event_id]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://100.64.0.1/hooks",
    ],
)
def test_non_public_addresses_are_refused_at_registration(app, admin, url):
    with pytest.raises(DomainError, match="not public"):
        webhooks.create_endpoint(db.session, admin, url=url, events=["order.created"])
    assert count_rows(WebhookEndpoint) == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.215.14/hooks", "must start with https://"),
        ("ftp://93.184.215.14/hooks", "must start with https://"),
        ("https://user:pw@93.184.215.14/", "without user name"),
        ("https://no-such-host.invalid/hooks", "could not be found"),
        ("https://93.184.215.14:99999/", "not a valid URL"),
        ("", "Give the endpoint's URL"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(app, admin, url, message):
    with pytest.raises(DomainError, match=message):
        webhooks.create_endpoint(db.session, admin, url=url, events=["order.created"])
    assert count_rows(WebhookEndpoint) == 0


def test_a_public_https_url_is_accepted_and_gets_a_secret(app, admin):
    endpoint = webhooks.create_endpoint(
        db.session, admin, url="https://93.184.215.14/hooks", events=["order.shipped"]
    )
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.events == ["order.shipped"]


def test_only_staff_managers_register_endpoints(app):
    manager = StaffFactory(email="manager@staff.test", role="manager")
    with pytest.raises(DomainError, match="staff.manage"):
        webhooks.create_endpoint(
            db.session, manager, url="https://93.184.215.14/", events=["order.created"]
        )


@pytest.mark.settings(**LOOPBACK)
def test_the_address_is_checked_again_at_delivery(app, admin, webhook_receiver):
    register(admin, webhook_receiver)
    an_order()
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False  # the rules tightened since

    report = transport.deliver_due()

    assert len(report.retried) == 1 and webhook_receiver.received == []
    assert deliveries()[0].last_error.startswith("Refused: The host 127.0.0.1 resolves")


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    # The value openssl gives for the same input:
    # printf '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac k
    assert transport.signature("k", "1700000000", b'{"id":"evt_1"}') == (
        "v1="
        + subprocess.run(
            ["openssl", "dgst", "-sha256", "-hmac", "k", "-r"],
            input=b'1700000000.{"id":"evt_1"}',
            capture_output=True,
            check=True,
        )
        .stdout.split()[0]
        .decode()
    )
