"""Fixtures: a fresh app and database per test, on SQLite and on a real PostgreSQL.

Every test that uses ``app`` runs once per database backend. The schema is made by the
project's alembic migrations once per test session into a template database, and each
test gets its own copy (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for
PostgreSQL), so tests never see each other's rows.

PostgreSQL is the real server: the suite starts a throw-away cluster with the machine's
``initdb``/``pg_ctl`` (or uses ``CONSOLE_TEST_POSTGRES_URL`` when set). Where the server
cannot run, its tests skip with the reason, except under CI (``CI=true``), where a
missing component fails the run instead of hiding tests.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.database import db
from tests.helpers import Auth, require
from tests.services import (
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
    SmtpServer,
    start_postgres,
    start_redis,
    start_smtp,
)

BACKENDS = ["sqlite", "postgresql"]


def test_config(database_url: str, **overrides) -> dict:
    """The settings every test app gets, plus ``overrides``."""
    config = {
        "CONSOLE_CONFIG": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_SERVER": None,
        "SERVER_NAME": "console.test",
    }
    config.update(overrides)
    return config


test_config.__test__ = False  # a helper, not a test


def migrate(database_url: str) -> None:
    """Run the project's migrations (``alembic upgrade head``) on ``database_url``."""
    from console.schema import upgrade

    app = create_app(test_config(database_url))
    upgrade(app)
    with app.app_context():
        db.engine.dispose()


# --- SQLite -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL server: ``CONSOLE_TEST_POSTGRES_URL`` or one started here."""
    url = os.environ.get("CONSOLE_TEST_POSTGRES_URL")
    if url:
        yield PostgresServer(url=url, stop=None)
        return
    try:
        server = start_postgres()
    except ServiceUnavailable as exc:
        require(f"PostgreSQL cannot run here: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_template(postgres) -> str:
    """Name of a PostgreSQL database migrated to head, used as a template per test."""
    name = "console_template"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}"')
    postgres.execute(f'CREATE DATABASE "{name}"')
    migrate(postgres.database_url(name))
    return name


def fresh_postgres_database(postgres: PostgresServer, template: str | None) -> Iterator[str]:
    """A new database on ``postgres`` (a copy of ``template``), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    if template:
        postgres.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    else:
        postgres.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.database_url(name)
    finally:
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- per-test app --------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh database migrated to head, on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "console.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from fresh_postgres_database(
            request.getfixturevalue("postgres"), request.getfixturevalue("postgres_template")
        )


@pytest.fixture
def app_config() -> dict:
    """Per-test overrides of the app's settings (override this fixture in a module)."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a context of its own, as in production.

    Without this, a request would reuse the test's app context and so its database
    session: objects the test loaded would be served from that session's identity map,
    hiding queries and stale reads that a real request would meet.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(self._open_and_read, *args, **kwargs)

    def _open_and_read(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        # A streamed body (CSV export) runs inside its request's context: read it and
        # close the response here, in the context the request was given.
        response.get_data()
        response.close()
        return response


@pytest.fixture
def app(database_url, app_config) -> Iterator[Flask]:
    """A fresh console app on a fresh database; the test body runs in its app context."""
    app = create_app(test_config(database_url, **app_config))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class RequestContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as on a server.

    The ``app`` fixture keeps an app context pushed for the whole test (so tests can
    use ``db.session``); Flask would reuse it for the client's requests, sharing ``g``
    between them, and with it Flask-Login's cached user and Flask-Security's
    per-request attributes (sign-in time, freshness). A fresh context per request
    keeps each request as isolated as it is in production.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app) -> FlaskClient:
    app.test_client_class = RequestContextClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- sign-in ------------------------------------------------------------------------


@pytest.fixture
def auth(client) -> Auth:
    """Signs the test client in through the real login form."""
    return Auth(client)


# --- mail relay and queue -----------------------------------------------------------


def _running_smtp() -> Iterator[SmtpServer]:
    try:
        server = start_smtp()
    except ServiceUnavailable as exc:
        require(f"SMTP server cannot run here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback, collecting what it receives."""
    yield from _running_smtp()


@pytest.fixture(scope="module")
def module_smtp_server() -> Iterator[SmtpServer]:
    """One SMTP server for a whole test module (clear ``messages`` between tests)."""
    yield from _running_smtp()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on loopback, for this test only."""
    try:
        server = start_redis()
    except ServiceUnavailable as exc:
        require(f"Redis cannot run here: {exc}")
    try:
        yield server
    finally:
        server.close()


# --- a real browser --------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app served over HTTP on loopback (for the browser); its base URL.

    The browser asks for 127.0.0.1:<port>, so the suite's fixed SERVER_NAME is dropped.
    """
    from werkzeug.serving import make_server

    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Request threads are joined at close, so that each gives its database connection
    # back before the test's engine is disposed.
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        require(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # No sandbox as root (CI); no background traffic on a machine without internet.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` keeps a picture of the page under test-artifacts/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{test}--{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
