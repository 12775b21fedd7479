"""``/`` and ``/status`` as the contract describes them."""

from __future__ import annotations

import pytest

from console.database import db
from tests.fixtures.apps import from_fixture
from tests.services import free_port


def test_home_goes_to_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.endswith("/admin/")


def test_status_ok_when_database_answers(client):
    response = client.get("/status")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_status_503_when_database_is_unreachable(tmp_path, backend, make_app):
    if backend == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        url = f"sqlite:///{tmp_path}"
    else:
        url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/console?connect_timeout=2"
    response = make_app(url).test_client().get("/status")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"


def test_admin_pages_send_anonymous_visitors_to_login(client):
    for url in ("/admin/", "/admin/order/", "/admin/customer/new/", "/admin/product/edit/?id=1"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.location


def test_status_reports_the_outbox_backlog(client, app):
    from console.models import OutboxStatus
    from console.services.notifications import enqueue_rendered

    for status in ("pending", "pending", "failed", "sent"):
        message = enqueue_rendered(
            db.session, "ada@example.com", "Hello", "text", None, template="order_received"
        )
        message.status = OutboxStatus(status).value
    db.session.commit()
    body = client.get("/status").get_json()
    assert (body["outbox"]["waiting"], body["outbox"]["failed"]) == (2, 1)
    assert "redis" not in body  # not configured: not reported


@pytest.mark.settings(REDIS_URL=from_fixture("redis_server", "url"))
def test_status_reports_redis_when_configured(client):
    body = client.get("/status").get_json()
    assert (body["status"], body["redis"]) == ("ok", "ok")


@pytest.mark.settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
def test_a_redis_outage_is_reported_but_keeps_the_host_in_service(client):
    response = client.get("/status")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "unreachable"
    assert response.get_json()["status"] == "ok"
