"""Smaller hardening: production secrets' length, request ids, caching, form look-ups."""

from __future__ import annotations

import pytest

import config as settings
from console.logs import REQUEST_ID_HEADER
from console.permissions import ORDERS_READ, ORDERS_WRITE
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, accounts_datastore
from tests.helpers import export

# --- production secrets ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["SECRET_KEY", "SECURITY_PASSWORD_SALT", "SECURITY_TOTP_SECRET"])
def test_production_refuses_a_short_secret(monkeypatch, name):
    for secret in ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "SECURITY_TOTP_SECRET"):
        monkeypatch.setenv(secret, "r" * 48)
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    monkeypatch.setenv(name, "x" * (settings.MIN_SECRET_LENGTH - 1))
    with pytest.raises(settings.ConfigurationError, match=f"set {name} in the environment"):
        settings.load("production")
    monkeypatch.setenv(name, "x" * settings.MIN_SECRET_LENGTH)
    assert settings.load("production")["ENV_NAME"] == "production"


# --- request ids ---------------------------------------------------------------------------


def test_a_client_cannot_choose_its_request_id_without_a_trusted_proxy(client):
    response = client.get("/status", headers={REQUEST_ID_HEADER: "chosen-by-the-client"})
    assert response.headers[REQUEST_ID_HEADER] != "chosen-by-the-client"


@pytest.mark.settings(PROXY_COUNT=1)
def test_the_load_balancers_request_id_is_kept(client):
    response = client.get("/status", headers={REQUEST_ID_HEADER: "lb-0123456789abcdef"})
    assert response.headers[REQUEST_ID_HEADER] == "lb-0123456789abcdef"


# --- caching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/customer/", "/admin/order/export/csv/", "/admin/sessions/"]
)
def test_admin_pages_and_exports_are_not_cached(client, auth, path):
    CustomerFactory()
    auth.login_as("admin")
    response = export(client, path) if "/export/" in path else client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_the_sign_in_page_is_not_cached_but_the_status_check_may_be(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/status").headers.get("Cache-Control", "")


# --- form look-ups ---------------------------------------------------------------------------


@pytest.fixture
def order_taker(client, auth):
    """Signed in with a custom role holding only orders.read and orders.write."""
    accounts_datastore().create_role(name="order-taker", permissions=[ORDERS_READ, ORDERS_WRITE])
    StaffFactory(email="taker@staff.test", role="order-taker")
    assert auth.login("taker@staff.test").status_code == 302


@pytest.mark.parametrize("name", ["customer", "orderline-product"])
def test_a_look_up_needs_the_right_to_read_what_it_lists(client, order_taker, name):
    CustomerFactory(email="ada@example.com")
    ProductFactory(sku="SKU-1")
    response = client.get(f"/admin/order/ajax/lookup/?name={name}&query=")
    assert response.status_code == 403
    assert "ada@example.com" not in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["customer", "orderline-product"])
def test_a_clerk_still_looks_customers_and_products_up(client, auth, name):
    CustomerFactory(email="ada@example.com")
    ProductFactory(sku="SKU-1")
    auth.login_as("clerk")
    response = client.get(f"/admin/order/ajax/lookup/?name={name}&query=")
    assert response.status_code == 200
    assert response.get_json()
