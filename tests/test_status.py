"""``/`` and ``/status`` as the contract describes them."""

from __future__ import annotations

import pytest

from console import create_app
from console.extensions import db
from tests.conftest import test_config
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
def test_status_503_when_database_is_unreachable(tmp_path, backend):
    if backend == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        url = f"sqlite:///{tmp_path}"
    else:
        url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/console?connect_timeout=2"
    app = create_app(test_config(url))
    response = app.test_client().get("/status")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"
    with app.app_context():
        db.engine.dispose()


def test_admin_pages_send_anonymous_visitors_to_login(client):
    for url in ("/admin/", "/admin/order/", "/admin/customer/new/", "/admin/product/edit/?id=1"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.location
