"""The webhook pages of the console: registering an endpoint, its secret, the delivery
log with its resend action, and what admins see of an endpoint disabled by failures.

Through the real forms (CSRF on), on SQLite and PostgreSQL; who may open these pages is
checked with every other endpoint by tests/test_access_matrix.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import WebhookDelivery, WebhookEndpoint
from console.models.base import utcnow
from console.notify import webhooks as transport
from tests.factories import OrderFactory, catalogue
from tests.helpers import (
    alerts,
    count_rows,
    csrf_token_from,
    flashed_errors,
    form_token,
    parse,
    table_rows,
    text_of,
)

pytestmark = pytest.mark.settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True)


def register_through_the_form(client, url: str, events: list[str]):
    token = form_token(client, "/admin/webhook_endpoint/new/")
    return client.post(
        "/admin/webhook_endpoint/new/",
        data={
            "csrf_token": token,
            "endpoint_url": url,
            "description": "Warehouse",
            "events": events,
            "active": "y",
        },
    )


def test_an_admin_registers_an_endpoint_and_reads_its_secret(client, auth, webhook_receiver):
    auth.login_as("admin")
    response = register_through_the_form(
        client, webhook_receiver.url, ["order.created", "order.shipped"]
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    endpoint = db.session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.events == ["order.created", "order.shipped"]
    assert endpoint.url == webhook_receiver.url and endpoint.active

    page = parse(client.get(f"/admin/webhook_endpoint/details/?id={endpoint.id}").text)
    assert text_of(page.select_one("code.webhook-secret")) == endpoint.secret
    log_link = page.find("a", string=lambda s: s and "Delivery log" in s)
    assert log_link is not None
    # The receiver, given that secret, accepts the signed deliveries.
    webhook_receiver.secret = endpoint.secret
    customer, products = catalogue({"KETTLE": 5})
    OrderFactory(customer=customer, lines={products["KETTLE"]: 1})
    assert len(transport.deliver_due().sent) == 1
    assert webhook_receiver.types() == ["order.created"]
    log = client.get(log_link["href"]).get_data(as_text=True)
    [row] = [r for r in table_rows(log) if "order.created" in r]
    assert "Sent" in row and "204" in row


@pytest.mark.settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
def test_a_private_address_is_refused_on_the_form(client, auth):
    auth.login_as("admin")
    response = register_through_the_form(client, "http://10.0.0.8/hooks", ["order.created"])
    assert "not public" in " ".join(flashed_errors(response.get_data(as_text=True)))
    assert count_rows(WebhookEndpoint) == 0


def test_an_endpoint_needs_an_event(client, auth):
    auth.login_as("admin")
    response = register_through_the_form(client, "http://127.0.0.1:9/hooks", [])
    assert response.status_code == 200
    assert count_rows(WebhookEndpoint) == 0


def disabled_endpoint() -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url="https://93.184.215.14/hooks",
        events=["order.created"],
        secret="whsec_x",
        active=False,
        consecutive_failures=10,
        disabled_at=utcnow(),
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def test_admins_see_an_endpoint_disabled_by_failures(client, auth):
    endpoint = disabled_endpoint()
    auth.login_as("admin")
    listing = parse(client.get("/admin/webhook_endpoint/").text)
    assert text_of(listing.select_one(".webhook-state")) == "Disabled after failures"
    notice = parse(client.get("/admin/").text).select_one("#notice-disabled-webhooks")
    assert notice is not None and endpoint.url in text_of(notice)


def test_the_dashboard_notice_is_for_staff_managers_only(client, auth):
    disabled_endpoint()
    auth.login_as("manager")
    assert parse(client.get("/admin/").text).select_one("#notice-disabled-webhooks") is None


def test_the_resend_action_queues_a_failed_delivery_again(client, auth, webhook_receiver):
    auth.login_as("admin")
    register_through_the_form(client, webhook_receiver.url, ["order.created"])
    endpoint = db.session.scalars(select(WebhookEndpoint)).one()
    webhook_receiver.secret = endpoint.secret
    customer, products = catalogue({"KETTLE": 5})
    OrderFactory(customer=customer, lines={products["KETTLE"]: 1})
    db.session.execute(WebhookDelivery.__table__.update().values(status="failed", attempts=8))
    db.session.commit()
    delivery = db.session.scalars(select(WebhookDelivery)).one()

    token = form_token(client, "/admin/webhook_delivery/")
    response = client.post(
        "/admin/webhook_delivery/action/",
        data={"csrf_token": token, "action": "resend", "rowid": [str(delivery.id)]},
        follow_redirects=True,
    )
    assert "1 delivery(ies) queued to be posted again" in alerts(response.get_data(as_text=True))
    assert len(transport.deliver_due().sent) == 1
    assert [event.event_id for event in webhook_receiver.received] == [delivery.event_id]


def test_ticking_active_again_resumes_a_disabled_endpoint(client, auth):
    endpoint = disabled_endpoint()
    auth.login_as("admin")
    url = f"/admin/webhook_endpoint/edit/?id={endpoint.id}"
    page = parse(client.get(url).text)
    assert page.select_one("input[name=endpoint_url]")["value"] == endpoint.url
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(str(page)),
            "endpoint_url": endpoint.url,
            "events": ["order.created", "order.cancelled"],
            "description": "",
            "active": "y",
        },
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.active and endpoint.consecutive_failures == 0
    assert endpoint.disabled_at is None
    assert endpoint.events == ["order.created", "order.cancelled"]
