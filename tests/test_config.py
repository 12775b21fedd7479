"""Configuration: environments and the production guard on secrets."""

from __future__ import annotations

import pytest

from config import DEV_PASSWORD_SALT, DEV_SECRET_KEY, load_config
from console import create_app


def test_development_is_the_default(monkeypatch):
    monkeypatch.delenv("CONSOLE_CONFIG", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = load_config()
    assert config.ENV_NAME == "development"
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SQLALCHEMY_DATABASE_URI.endswith("instance/console.sqlite3")
    assert config.MAIL_SERVER is None
    assert config.SECURITY_PASSWORD_HASH == "bcrypt"


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shop@db/console")
    monkeypatch.setenv("MAIL_SERVER", "smtp.shop.test")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    config = load_config("development")
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://shop@db/console"
    assert (config.MAIL_SERVER, config.MAIL_PORT, config.MAIL_USE_TLS) == (
        "smtp.shop.test",
        2525,
        True,
    )


def test_unknown_environment_is_refused_by_name():
    with pytest.raises(RuntimeError, match="staging"):
        load_config("staging")


def test_bad_integer_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "twenty-five")
    with pytest.raises(RuntimeError, match="MAIL_PORT"):
        load_config("development")


@pytest.mark.parametrize(
    ("secret_key", "salt", "missing"),
    [
        (None, None, "SECRET_KEY, SECURITY_PASSWORD_SALT"),
        (DEV_SECRET_KEY, "a-real-salt-value", "SECRET_KEY"),
        ("a-real-secret-key", DEV_PASSWORD_SALT, "SECURITY_PASSWORD_SALT"),
        ("a-real-secret-key", None, "SECURITY_PASSWORD_SALT"),
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
