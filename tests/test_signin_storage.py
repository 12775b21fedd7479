"""Where sign-in counters live: Redis optional (an outage must not stop sign-in), and no
per-process counters under several production workers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import config
from console.database import db
from tests.factories import StaffFactory
from tests.helpers import Auth

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_SECRETS = {
    "SECRET_KEY": "k" * 48,
    "SECURITY_PASSWORD_SALT": "s" * 48,
    "SECURITY_TOTP_SECRET": "t" * 48,
    "CONSOLE_BASE_URL": "https://console.example.org",
}


# --- finding: Redis down ----------------------------------------------------------------


def test_sign_in_works_while_redis_is_down(database_url, redis_server, make_app, caplog):
    app = make_app(
        database_url,
        REDIS_URL=redis_server.url,
        CONSOLE_LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes",
    )
    with app.app_context():
        StaffFactory(email="clerk@staff.test", role="clerk")
        StaffFactory(email="manager@staff.test", role="manager")
        db.session.remove()
    redis_server.stop()

    caplog.set_level(logging.WARNING)
    client = app.test_client()
    auth = Auth(client)
    signed_in = auth.login("clerk@staff.test")
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:300]
    assert signed_in.headers.get("X-Request-ID")
    assert client.get("/admin/").status_code == 200
    auth.logout()
    assert any("storage unreachable" in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]

    # The per-account lockout, kept in the database, still holds.
    for _ in range(3):
        assert auth.login("manager@staff.test", "wrong password").status_code == 200
    refused = auth.login("manager@staff.test")
    assert refused.status_code == 429
    assert refused.headers.get("X-Request-ID")


# --- finding: per-process counters under several workers ----------------------------------


@pytest.mark.parametrize(
    ("variables", "starts"),
    [
        ({"WEB_CONCURRENCY": "4"}, False),
        ({"WEB_CONCURRENCY": "4", "REDIS_URL": "redis://redis-host:6379/0"}, True),
        ({"WEB_CONCURRENCY": "1"}, True),
        ({}, True),
    ],
)
def test_production_refuses_per_process_limits_with_several_workers(monkeypatch, variables, starts):
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**PRODUCTION_SECRETS, **variables}.items():
        monkeypatch.setenv(name, value)
    if starts:
        config.load("production")
    else:
        with pytest.raises(config.ConfigurationError, match="WEB_CONCURRENCY=4"):
            config.load("production")
    assert config.load("development")["RATELIMIT_STORAGE_URI"] == (
        variables.get("REDIS_URL") or "memory://"
    )


def test_gunicorn_with_several_workers_and_no_redis_refuses_to_start(tmp_path):
    env = {
        **os.environ,
        **PRODUCTION_SECRETS,
        "CONSOLE_CONFIG": "production",
        "CONSOLE_BASE_URL": "https://console.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "GUNICORN_BIND": "127.0.0.1:0",
        "GUNICORN_WORKERS": "2",
    }
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "console:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "WEB_CONCURRENCY=2" in result.stdout + result.stderr
