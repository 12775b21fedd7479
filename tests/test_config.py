"""Configuration: environments and the production guard on secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

import config as settings
from config import DEV_PASSWORD_SALT, DEV_SECRET_KEY, ConfigurationError, load
from console import create_app


def test_development_is_the_default(monkeypatch):
    monkeypatch.delenv("CONSOLE_CONFIG", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = load()
    assert config["ENV_NAME"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/console.sqlite3")
    assert config["MAIL_SERVER"] is None
    assert config["SECURITY_PASSWORD_HASH"] == "bcrypt"


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shop@db/console")
    monkeypatch.setenv("MAIL_SERVER", "smtp.shop.test")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    config = load("development")
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://shop@db/console"
    assert (config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USE_TLS"]) == (
        "smtp.shop.test",
        2525,
        True,
    )


def test_unknown_environment_is_refused_by_name():
    with pytest.raises(RuntimeError, match="staging"):
        load("staging")


def test_bad_integer_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "twenty-five")
    with pytest.raises(RuntimeError, match="MAIL_PORT"):
        load("development")


@pytest.mark.parametrize(
    ("secret_key", "salt", "missing"),
    [
        (None, None, "SECRET_KEY, SECURITY_PASSWORD_SALT"),
        (DEV_SECRET_KEY, "a-real-salt-value-" + "s" * 32, "SECRET_KEY"),
        ("a-real-secret-key-" + "k" * 32, DEV_PASSWORD_SALT, "SECURITY_PASSWORD_SALT"),
        ("a-real-secret-key-" + "k" * 32, None, "SECURITY_PASSWORD_SALT"),
    ],
)
def test_production_refuses_default_secrets(monkeypatch, tmp_path, secret_key, salt, missing):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    monkeypatch.setenv("SECURITY_TOTP_SECRET", "t" * 48)
    for name, value in (("SECRET_KEY", secret_key), ("SECURITY_PASSWORD_SALT", salt)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=f"set {missing} in the environment"):
        create_app({"CONSOLE_CONFIG": "production"})


def test_production_refuses_the_development_totp_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", "s" * 48)
    monkeypatch.delenv("SECURITY_TOTP_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="set SECURITY_TOTP_SECRET in the environment"):
        create_app({"CONSOLE_CONFIG": "production"})


def test_production_starts_with_real_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    monkeypatch.setenv("SECURITY_TOTP_SECRET", "t" * 48)
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", "s" * 48)
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    app = create_app({"CONSOLE_CONFIG": "production"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "k" * 48


def test_client_address_behind_a_trusted_proxy(app):
    from flask import request

    @app.get("/_whoami")
    def whoami():
        return request.remote_addr

    headers = {"X-Forwarded-For": "203.0.113.7"}
    direct = app.test_client().get("/_whoami", headers=headers)
    assert direct.get_data(as_text=True) == "127.0.0.1"  # not trusted by default


@pytest.mark.settings(PROXY_COUNT=1)
def test_proxy_count_trusts_the_load_balancer(app):

    @app.get("/_whoami")
    def whoami():
        from flask import request

        return request.remote_addr

    response = app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_data(as_text=True) == "203.0.113.7"


# --- typed settings: derived values, bad values, documentation -----------------------


@pytest.fixture
def bare_environment(monkeypatch):
    """No configuration variable set: every setting takes its embedded default."""
    for name in [*settings.Settings.variables(), "CONSOLE_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_rate_limit_storage_follows_the_redis_override(bare_environment):
    assert load("testing")["RATELIMIT_STORAGE_URI"] == "memory://"
    bare_environment.setenv("REDIS_URL", "redis://from-the-environment:6379/0")
    overridden = load("testing", {"REDIS_URL": "redis://cache.test:6379/1"})
    assert overridden["RATELIMIT_STORAGE_URI"] == "redis://cache.test:6379/1"
    assert load("testing", {"REDIS_URL": None})["RATELIMIT_STORAGE_URI"] == "memory://"


def test_explicit_rate_limit_storage_wins(bare_environment):
    bare_environment.setenv("RATELIMIT_STORAGE_URI", "redis://limits.test:6379/2")
    config = load("development", {"REDIS_URL": "redis://cache.test:6379/1"})
    assert config["RATELIMIT_STORAGE_URI"] == "redis://limits.test:6379/2"


@pytest.mark.parametrize(
    ("name", "overrides", "in_process"),
    [
        # The embedded default with a relay delivers from a thread in each web process.
        ("development", {"MAIL_SERVER": "smtp.shop.test"}, True),
        # RQ workers on Redis deliver instead.
        ("development", {"MAIL_SERVER": "smtp.shop.test", "REDIS_URL": "redis://r"}, False),
        ("production", {"MAIL_SERVER": "smtp.shop.test", "REDIS_URL": "redis://r"}, False),
        ("production", {"MAIL_SERVER": "smtp.shop.test"}, True),
        # No relay: the thread still posts webhooks (mail waits in the outbox).
        ("development", {}, True),
        # Under test only when the test asks for it.
        ("testing", {"MAIL_SERVER": "smtp.shop.test"}, False),
        ("development", {"MAIL_SERVER": "smtp.shop.test", "TESTING": True}, False),
        ("testing", {"MAIL_SERVER": "smtp.shop.test", "OUTBOX_IN_PROCESS": True}, True),
        ("development", {"MAIL_SERVER": "smtp.shop.test", "OUTBOX_IN_PROCESS": False}, False),
    ],
)
def test_in_process_delivery_follows_the_overrides(bare_environment, name, overrides, in_process):
    for secret in ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "SECURITY_TOTP_SECRET"):
        bare_environment.setenv(secret, "r" * 48)
    bare_environment.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    assert load(name, overrides)["OUTBOX_IN_PROCESS"] is in_process


def test_an_override_replaces_the_environment_before_derivation(bare_environment):
    bare_environment.setenv("REDIS_URL", "redis://r")
    assert load("development")["OUTBOX_IN_PROCESS"] is False
    assert load("development", {"REDIS_URL": None})["OUTBOX_IN_PROCESS"] is True


def test_create_app_takes_the_environment_from_the_overrides(
    bare_environment, database_url, make_app
):
    app = make_app(database_url, REDIS_URL="redis://cache.test:6379/1")
    assert app.config["ENV_NAME"] == "testing"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://cache.test:6379/1"
    assert app.config["OUTBOX_IN_PROCESS"] is False


def test_bad_integer_message_names_the_variable_and_the_value(bare_environment):
    bare_environment.setenv("MAIL_PORT", "abc")
    with pytest.raises(ConfigurationError) as refused:
        create_app({"CONSOLE_CONFIG": "testing"})
    message = str(refused.value)
    assert "MAIL_PORT='abc'" in message
    assert "valid integer" in message


def test_every_bad_variable_is_named_at_once(bare_environment):
    bare_environment.setenv("OUTBOX_MAX_ATTEMPTS", "0")
    bare_environment.setenv("ORDERS_FOUR_EYES", "perhaps")
    bare_environment.setenv("LOG_LEVEL", "loud")
    bare_environment.setenv("LOG_FORMAT", "xml")
    bare_environment.setenv("CONSOLE_IDLE_TIMEOUT_MINUTES", "half an hour")
    with pytest.raises(ConfigurationError) as refused:
        load("development")
    message = str(refused.value)
    for name in (
        "OUTBOX_MAX_ATTEMPTS='0'",
        "ORDERS_FOUR_EYES='perhaps'",
        "LOG_LEVEL='loud'",
        "LOG_FORMAT='xml'",
        "CONSOLE_IDLE_TIMEOUT_MINUTES='half an hour'",
    ):
        assert name in message


def test_empty_variables_count_as_unset(bare_environment):
    for name in ("MAIL_PORT", "MAIL_SERVER", "LOG_LEVEL", "ORDERS_FOUR_EYES", "SHOP_NAME"):
        bare_environment.setenv(name, "")
    config = load("development")
    assert (config["MAIL_PORT"], config["MAIL_SERVER"], config["LOG_LEVEL"]) == (25, None, "INFO")
    assert (config["ORDERS_FOUR_EYES"], config["SHOP_NAME"]) == (True, "Our shop")


def test_an_empty_two_factor_list_requires_nobody(bare_environment):
    for secret in ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "SECURITY_TOTP_SECRET"):
        bare_environment.setenv(secret, "r" * 48)
    bare_environment.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    assert load("production")["CONSOLE_REQUIRE_2FA_PERMISSIONS"] == ["staff.manage"]
    bare_environment.setenv("CONSOLE_REQUIRE_2FA_PERMISSIONS", "")
    assert load("production")["CONSOLE_REQUIRE_2FA_PERMISSIONS"] == []
    bare_environment.setenv("CONSOLE_REQUIRE_2FA_PERMISSIONS", "staff.manage, orders.approve")
    assert load("development")["CONSOLE_REQUIRE_2FA_PERMISSIONS"] == [
        "staff.manage",
        "orders.approve",
    ]


def test_environment_differences(bare_environment):
    testing, development = load("testing"), load("development")
    assert testing["SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS"] == {"bcrypt__rounds": 4}
    assert testing["SECURITY_EMAIL_VALIDATOR_ARGS"]["test_environment"] is True
    assert "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS" not in development
    assert development["SECURITY_EMAIL_VALIDATOR_ARGS"] == {"check_deliverability": False}
    assert development["SECRET_KEY"] == DEV_SECRET_KEY
    assert "SESSION_COOKIE_SECURE" not in development


def test_each_load_gets_its_own_mutable_settings(bare_environment):
    first = load("development")
    first["ORDER_EMAIL_SUBJECTS"]["order_received"] = "changed"
    first["SQLALCHEMY_ENGINE_OPTIONS"]["echo"] = True
    second = load("development")
    assert second["ORDER_EMAIL_SUBJECTS"]["order_received"] != "changed"
    assert "echo" not in second["SQLALCHEMY_ENGINE_OPTIONS"]


def test_secrets_do_not_show_in_the_settings_repr(bare_environment):
    bare_environment.setenv("SECRET_KEY", "a-very-private-signing-key")
    bare_environment.setenv("MAIL_PASSWORD", "a-very-private-relay-password")
    text = repr(settings.Settings.from_environment())
    assert "a-very-private" not in text


def test_every_variable_is_documented():
    root = Path(settings.__file__).parent
    documented = (root / "README.md").read_text() + "".join(
        path.read_text() for path in sorted((root / "docs").glob("*.md"))
    )
    missing = [name for name in settings.Settings.variables() if f"`{name}`" not in documented]
    assert missing == []


def test_the_request_body_limit_follows_the_import_file_limit(monkeypatch):
    monkeypatch.setenv("IMPORT_MAX_BYTES", "5000")
    assert load("development")["MAX_CONTENT_LENGTH"] == 5000 + settings.UPLOAD_FORM_ALLOWANCE


def test_invoice_settings_are_typed_and_the_seller_has_demo_details_outside_production(
    monkeypatch,
):
    monkeypatch.setenv("INVOICE_ON", "Approved")
    config = load("development")
    assert config["INVOICE_ON"] == "approved"
    assert config["SELLER_NAME"] == settings.DEMO_SELLER["SELLER_NAME"]
    monkeypatch.setenv("SELLER_VAT_ID", "FR12345678901")
    assert load("testing")["SELLER_VAT_ID"] == "FR12345678901"
    monkeypatch.setenv("INVOICE_ON", "delivered")
    with pytest.raises(ConfigurationError, match="INVOICE_ON='delivered'"):
        load("development")
