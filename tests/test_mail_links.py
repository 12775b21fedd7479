"""Links in e-mails come from CONSOLE_BASE_URL; requests naming another host are refused."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select

import config as settings
from console.database import db
from console.models import OutboxMessage
from console.security.links import external_url
from tests.factories import StaffFactory
from tests.helpers import csrf_token_from


def reset_mails() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage)))


def ask_for_reset(client, email: str, **request_options):
    """Open /reset and post ``email`` with the form's token, both with ``request_options``."""
    page = client.get("/reset", **request_options)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post("/reset", data={"email": email, "csrf_token": token}, **request_options)


def test_a_reset_asked_with_a_foreign_host_header_is_refused(client):
    StaffFactory(email="manager@staff.test", role="manager")
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    response = client.post(
        "/reset",
        data={"email": "manager@staff.test", "csrf_token": token},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 400
    assert reset_mails() == []


@pytest.mark.settings(PROXY_COUNT=1)
def test_a_forwarded_host_is_refused_behind_a_trusted_proxy(client):
    StaffFactory(email="manager@staff.test", role="manager")
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    response = client.post(
        "/reset",
        data={"email": "manager@staff.test", "csrf_token": token},
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 400
    assert reset_mails() == []


@pytest.mark.settings(
    CONSOLE_BASE_URL="https://console.shop.test/backoffice",
    CONSOLE_TRUSTED_HOSTS=["console-internal.test"],
)
def test_the_reset_link_uses_the_base_url_whatever_host_the_request_named(client):
    StaffFactory(email="manager@staff.test", role="manager")
    response = ask_for_reset(client, "manager@staff.test", base_url="http://console-internal.test")
    assert response.status_code in (200, 302)
    [mail] = reset_mails()
    assert "https://console.shop.test/backoffice/reset/" in mail.body_text
    assert "console-internal.test" not in mail.body_text
    assert "https://console.shop.test/backoffice/reset/" in (mail.body_html or "")


def test_pages_answer_on_the_configured_host(client):
    assert client.get("/login").status_code == 200


@pytest.mark.settings(
    CONSOLE_BASE_URL="https://console.shop.test/backoffice", CONSOLE_TRUSTED_HOSTS=["console.test"]
)
def test_external_url_in_a_request_and_outside_one(app):
    with app.test_request_context("/admin/", base_url="http://console.test"):
        assert external_url("security.login") == "https://console.shop.test/backoffice/login"
        assert url_for("security.login") == "/login"  # relative links are unchanged
        assert url_for("security.login", _external=True).startswith("https://console.shop.test/")
    # Outside a request (CLI, jobs): the same address, with query arguments.
    assert (
        external_url("security.reset_password", token="abc", lang="en")
        == "https://console.shop.test/backoffice/reset/abc?lang=en"
    )


def test_trusted_hosts_follow_the_base_url(monkeypatch):
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.shop.test/")
    monkeypatch.setenv("CONSOLE_TRUSTED_HOSTS", "console-internal.test, Other.test")
    config = settings.load("development")
    assert config["CONSOLE_BASE_URL"] == "https://console.shop.test"
    assert config["TRUSTED_HOSTS"] == ["console.shop.test", "console-internal.test", "other.test"]
    monkeypatch.delenv("CONSOLE_BASE_URL")
    monkeypatch.delenv("CONSOLE_TRUSTED_HOSTS")
    config = settings.load("development")
    assert config["CONSOLE_BASE_URL"] == "http://127.0.0.1:5000"
    assert config["TRUSTED_HOSTS"] == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize("value", ["console.shop.test", "ftp://console.shop.test", "https://x?a=1"])
def test_a_base_url_that_is_not_an_address_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("CONSOLE_BASE_URL", value)
    with pytest.raises(settings.ConfigurationError, match="CONSOLE_BASE_URL"):
        settings.load("development")


def test_production_requires_the_base_url(monkeypatch):
    for name in ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "SECURITY_TOTP_SECRET"):
        monkeypatch.setenv(name, "r" * 48)
    monkeypatch.delenv("CONSOLE_BASE_URL", raising=False)
    with pytest.raises(settings.ConfigurationError, match="set CONSOLE_BASE_URL"):
        settings.load("production")
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    assert settings.load("production")["TRUSTED_HOSTS"] == ["console.shop.test"]
