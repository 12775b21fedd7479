"""The commands README.md and DESIGN.md promise, run the way an operator runs them.

``python run.py``, the ``flask`` staff commands and gunicorn run as real processes from
the repository root, configured by environment variables only, on a free port of
127.0.0.1; a server is waited for on ``/status`` up to a deadline, then stopped.
``flask --app console seed --orders N`` and the production hardening run in-process.
"""

from __future__ import annotations

import http.client
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from console import create_app
from console.database import db
from console.models import Order, User
from seeds.bulk import BULK_PREFIX
from seeds.demo import DEMO_ACCOUNTS, DEMO_ORDER_PREFIX
from tests.factories import StaffFactory
from tests.helpers import Auth
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_DEADLINE = 90.0
"""Seconds a server may take to answer /status (migrations and demo data included)."""

PRODUCTION_PASSWORD = "a pass phrase hashed under the production salt"
PRODUCTION_SECRETS = {
    "SECRET_KEY": "k" * 48,
    "SECURITY_PASSWORD_SALT": "s" * 48,
    "SECURITY_TOTP_SECRET": "t" * 48,
    "CONSOLE_BASE_URL": "https://console.test",
}


def command_env(**variables: str) -> dict[str, str]:
    """A clean environment: the venv's commands first, nothing of the console's set."""
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    env.update(variables)
    return env


def run_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a command from the repository root; fail with its output when it fails."""
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def get(port: int, path: str) -> Answer:
    """One GET to the server on ``port`` (redirects are not followed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[Answer]:
    """Start a server process, yield its first /status answer, then stop it.

    /status is polled until it answers or the process exits, up to ``START_DEADLINE``.
    """
    with log.open("w") as output:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if process.poll() is not None:
                pytest.fail(f"{args} exited with {process.returncode}:\n{log.read_text()}")
            try:
                first = get(port, "/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{args} did not answer /status in time:\n{log.read_text()}")
                time.sleep(0.2)
        yield first
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- python run.py --------------------------------------------------------------------


def test_run_py_migrates_loads_demo_data_and_serves_on_host_and_port(tmp_path, make_app):
    """``python run.py`` on an empty database: schema, demo data, then /status on PORT."""
    database_url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    port = free_port()
    env = command_env(DATABASE_URL=database_url, HOST="127.0.0.1", PORT=str(port))
    log = tmp_path / "run.log"
    with serving([sys.executable, "run.py"], env, port, log) as status:
        assert status.status == 200, status.body
        assert status.json()["status"] == "ok"
        assert status.json()["database"] == "ok"
        home = get(port, "/")
        assert home.status == 302
        assert home.headers["Location"].endswith("/admin/")
    assert "Loaded the demo data" in log.read_text()

    app = make_app(database_url)
    with app.app_context():
        for role, (email, password) in DEMO_ACCOUNTS.items():
            account = db.session.scalar(select(User).filter_by(email=email))
            assert account is not None, email
            assert [r.name for r in account.roles] == [role]
            assert account.verify_and_update_password(password)
        demo_orders = db.session.scalar(
            select(func.count()).where(Order.number.like(f"{DEMO_ORDER_PREFIX}%"))
        )
        assert demo_orders > 0


def test_run_py_leaves_a_database_with_data_as_it_is(tmp_path, sqlite_template, make_app):
    """A later start (here: a migrated database holding one account) loads nothing."""
    path = tmp_path / "kept.sqlite3"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite:///{path}"
    app = make_app(database_url)
    with app.app_context():
        StaffFactory(email="only@staff.test", role="clerk")
        db.session.remove()
    port = free_port()
    env = command_env(DATABASE_URL=database_url, PORT=str(port))
    log = tmp_path / "run.log"
    with serving([sys.executable, "run.py"], env, port, log) as status:
        assert status.status == 200
    assert "Loaded the demo data" not in log.read_text()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0


# --- flask users create / roles add -------------------------------------------------------


def test_users_create_then_roles_add_gives_a_working_account(app, client, database_url):
    """Flask-Security-Too's own commands create a staff member who signs in with the role."""
    env = command_env(DATABASE_URL=database_url)
    email, password = "new.manager@example.com", "a long and unusual pass phrase 42"
    created = run_command(
        "flask", "--app", "console", "users", "create", email, "--password", password,
        "--active", env=env,
    )  # fmt: skip
    assert email in created.stdout
    run_command("flask", "--app", "console", "roles", "add", email, "manager", env=env)

    account = db.session.scalar(select(User).filter_by(email=email))
    assert account.active is True
    assert [role.name for role in account.roles] == ["manager"]
    assert Auth(client).login(email, password).status_code == 302
    assert client.get("/admin/pending/").status_code == 200  # orders.approve: managers
    assert client.get("/admin/staff_user/").status_code == 403  # staff.manage: admins only


def test_users_create_without_active_cannot_sign_in(app, client, database_url):
    """The contract passes ``--active`` for a reason: without it the account is inactive."""
    env = command_env(DATABASE_URL=database_url)
    email, password = "new.clerk@example.com", "a long and unusual pass phrase 42"
    run_command("flask", "--app", "console", "users", "create", email, "--password", password,
                env=env)  # fmt: skip
    run_command("flask", "--app", "console", "roles", "add", email, "clerk", env=env)
    assert db.session.scalar(select(User).filter_by(email=email)).active is False
    Auth(client).login(email, password)
    assert client.get("/admin/").status_code == 302


# --- gunicorn ----------------------------------------------------------------------------


def load_gunicorn_settings(monkeypatch, **variables: str) -> dict:
    """``gunicorn.conf.py``'s settings as gunicorn reads them, under these variables."""
    for name in [
        "GUNICORN_BIND", "HOST", "PORT", "GUNICORN_WORKERS", "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_KEEPALIVE",
        "GUNICORN_MAX_REQUESTS", "FORWARDED_ALLOW_IPS",
    ]:  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    # The file exports WEB_CONCURRENCY for the app: set it first so that monkeypatch
    # takes it back after the test (it only restores what it has seen).
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    monkeypatch.delenv("WEB_CONCURRENCY")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_settings_have_sane_defaults(monkeypatch):
    settings = load_gunicorn_settings(monkeypatch)
    assert settings["bind"] == "0.0.0.0:8000"
    assert 2 <= settings["workers"] <= 8
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == 4
    assert settings["timeout"] == 30
    assert settings["graceful_timeout"] == 30
    assert 0 < settings["keepalive"] < settings["timeout"]
    assert settings["max_requests"] == 5000
    assert settings["forwarded_allow_ips"] == "127.0.0.1"


def test_gunicorn_settings_follow_the_environment(monkeypatch):
    settings = load_gunicorn_settings(
        monkeypatch,
        HOST="127.0.0.1",
        PORT="9001",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="2",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="20",
    )
    assert settings["bind"] == "127.0.0.1:9001"
    assert (settings["workers"], settings["threads"]) == (3, 2)
    assert (settings["timeout"], settings["graceful_timeout"]) == (60, 20)
    bound = load_gunicorn_settings(monkeypatch, GUNICORN_BIND="unix:/run/console.sock", PORT="1")
    assert bound["bind"] == "unix:/run/console.sock"


def test_gunicorn_serves_the_console_under_production_settings(tmp_path, database_url):
    """``gunicorn -c gunicorn.conf.py "console:create_app()"`` answers, hardened."""
    port = free_port()
    env = command_env(
        CONSOLE_CONFIG="production",
        DATABASE_URL=database_url,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
        # Reached here by its loopback address, besides the external one.
        CONSOLE_TRUSTED_HOSTS="127.0.0.1",
        **PRODUCTION_SECRETS,
    )
    args = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "console:create_app()"]
    with serving(args, env, port, tmp_path / "gunicorn.log") as status:
        assert status.status == 200, status.body
        assert status.json()["status"] == "ok"
        assert status.headers["Strict-Transport-Security"].startswith("max-age=")
        login = get(port, "/login")
        assert login.status == 200
        assert "Secure" in cookie_flags(login.headers.get_all("Set-Cookie"), "session")
    assert "Booting worker" in (tmp_path / "gunicorn.log").read_text()


# --- flask seed --orders N -----------------------------------------------------------------


def order_numbers() -> tuple[int, int]:
    """(demo orders, generated orders) in the database now."""
    db.session.expire_all()

    def count(prefix: str) -> int:
        return db.session.scalar(select(func.count()).where(Order.number.like(f"{prefix}%")))

    return count(DEMO_ORDER_PREFIX), count(BULK_PREFIX)


def test_seed_orders_tops_up_to_n_and_is_idempotent(app, runner):
    result = runner.invoke(args=["seed", "--orders", "30"])
    assert result.exit_code == 0, result.output
    demo, generated = order_numbers()
    assert demo > 0 and generated == 30

    again = runner.invoke(args=["seed", "--orders", "30"])
    assert again.exit_code == 0, again.output
    assert order_numbers() == (demo, 30)

    more = runner.invoke(args=["seed", "--orders", "45"])
    assert more.exit_code == 0, more.output
    assert order_numbers() == (demo, 45)

    fewer = runner.invoke(args=["seed", "--orders", "10"])
    assert fewer.exit_code == 0, fewer.output
    assert order_numbers() == (demo, 45)  # tops up; never deletes


# --- production hardening -------------------------------------------------------------------


def cookie_flags(set_cookies: list[str], name: str) -> set[str]:
    """The attribute names (Secure, HttpOnly, ...) of cookie ``name`` in Set-Cookie headers."""
    for header in set_cookies:
        first, *attributes = (part.strip() for part in header.split(";"))
        if first.split("=", 1)[0] == name:
            return {attribute.split("=", 1)[0] for attribute in attributes}
    raise AssertionError(f"no {name} cookie set: {set_cookies}")


@pytest.fixture
def production_app(monkeypatch, database_url):
    """The console under CONSOLE_CONFIG=production with real secrets, on a test database."""
    for name, value in PRODUCTION_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", database_url)
    app = create_app({"CONSOLE_CONFIG": "production", "SERVER_NAME": "console.test"})
    with app.app_context():
        yield app
        # Production runs jobs on a thread of the web process (no Redis here): stop it
        # before its database goes.
        app.extensions["console_jobs"].stop_thread()
        db.session.remove()
        db.engine.dispose()


def test_production_sends_hsts_and_secure_cookies(production_app):
    client = production_app.test_client()
    page = client.get("/login", base_url="https://console.test")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert {"Secure", "HttpOnly"} <= cookie_flags(page.headers.getlist("Set-Cookie"), "session")

    # Production validates e-mail domains strictly (no reserved ".test" addresses), and
    # its own password salt needs a hash of its own (the factories cache the suite's).
    StaffFactory(email="clerk@example.com", role="clerk", password=PRODUCTION_PASSWORD)
    signed_in = Auth(client).login("clerk@example.com", PRODUCTION_PASSWORD)
    assert signed_in.status_code == 302
    assert {"Secure", "HttpOnly"} <= cookie_flags(
        signed_in.headers.getlist("Set-Cookie"), "session"
    )
    assert client.get("/admin/order/").status_code == 200


def test_development_sends_no_hsts(app, client):
    """Control: the header is production's, so the check above can fail."""
    page = client.get("/login")
    assert "Strict-Transport-Security" not in page.headers
    assert "Secure" not in cookie_flags(page.headers.getlist("Set-Cookie"), "session")
