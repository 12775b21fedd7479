"""The per-account sign-in lockout: one allowance per account whatever the spelling of its
address, shared by every worker process, counting only real authentication failures."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from console.database import db
from console.models import SignInAttempt
from console.schema import upgrade
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD, Auth, count_rows, csrf_token_from

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.settings(
    CONSOLE_LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes",
    CONSOLE_LOGIN_LIMIT_PER_ADDRESS="100 per 5 minutes",
)


# --- finding: Unicode variants of an address -------------------------------------------


def test_unicode_variants_of_an_address_share_one_allowance(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    variants = ["clerk@\uff53taff.test", "clerk@staff\u3002test", "clerk@staff\uff0etest"]
    for variant in variants:  # full-width letter, ideographic and full-width dots
        assert auth.login(variant, "wrong password").status_code == 200
    assert auth.login("CLERK@staff.test").status_code == 429
    assert auth.login("clerk@staff.test").status_code == 429
    assert client.get("/admin/").status_code == 302


def test_an_unknown_address_is_limited_by_its_normalised_form(client, auth):
    for variant in ["nobody@\uff53taff.test", "nobody@staff\u3002test", "nobody@staff.test"]:
        assert auth.login(variant, "wrong password").status_code == 200
    assert auth.login("nobody@staff\uff0etest", "wrong password").status_code == 429


# --- finding: only real authentication failures count ------------------------------------


def test_form_errors_and_bad_tokens_do_not_count(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    for _ in range(5):
        page = client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        no_token = client.post("/login", data={"email": "clerk@staff.test", "password": "x"})
        assert no_token.status_code == 400
        empty = client.post(
            "/login", data={"email": "clerk@staff.test", "password": "", "csrf_token": token}
        )
        assert empty.status_code == 200
    assert auth.login("clerk@staff.test").status_code == 302


# --- finding: an attempt whose view writes is finished at once, on SQLite too -----------


def test_an_attempt_is_finished_once_its_view_has_written(client, auth, caplog):
    """Changing a password writes in the request's transaction, and the attempt is ended
    in a session of its own after that commit. Ended before it, on SQLite, that session
    waited for the request's lock until the busy timeout, then logged an error and left
    the attempt unfinished (it counted against the account for a minute)."""
    auth.login_as("clerk")
    token = csrf_token_from(client.get("/change").get_data(as_text=True))
    new_password = "a quite new and long passphrase 42"
    changed = client.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": new_password,
            "new_password_confirm": new_password,
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    assert "could not record the end of a sign-in attempt" not in caplog.text
    assert count_rows(SignInAttempt) == 0


def test_a_database_outage_answers_503_and_locks_nobody_out(own_postgres, make_app):
    name = f"l_{uuid.uuid4().hex[:12]}"
    own_postgres.execute(f'CREATE DATABASE "{name}"')
    app = make_app(
        own_postgres.database_url(name),
        CONSOLE_LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes",
    )
    upgrade(app)
    with app.app_context():
        StaffFactory(email="clerk@staff.test", role="clerk")
        db.session.remove()
    client = app.test_client()
    auth = Auth(client)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))

    own_postgres.pause()
    try:
        answers = [
            client.post(
                "/login",
                data={"email": "clerk@staff.test", "password": STAFF_PASSWORD, "csrf_token": token},
            )
            for _ in range(6)
        ]
    finally:
        own_postgres.resume()
    assert [a.status_code for a in answers] == [503] * 6
    assert all(a.headers.get("X-Request-ID") for a in answers)

    deadline = time.monotonic() + 20
    while client.get("/status").status_code != 200:  # bounded: the server restarts
        assert time.monotonic() < deadline, "the database did not come back"
    assert auth.login("clerk@staff.test").status_code == 302
    assert client.get("/admin/").status_code == 200


# --- finding: the lockout holds across worker processes ----------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """A minimal HTTP client with a session cookie, for a server in another process."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text

    def login(self, email: str, password: str) -> int:
        _, page = self.request("GET", "/login")
        token = csrf_token_from(page)
        status, _ = self.request(
            "POST", "/login", {"email": email, "password": password, "csrf_token": token}
        )
        return status


@pytest.fixture
def gunicorn(database_url):
    """The console under gunicorn (gunicorn.conf.py) with four worker processes and no
    Redis, on the test's database."""
    port = _free_port()
    env = {
        **os.environ,
        "CONSOLE_CONFIG": "testing",
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "4",
        "GUNICORN_THREADS": "1",
        "CONSOLE_LOGIN_LIMIT_PER_ACCOUNT": "5 per 5 minutes",
        "CONSOLE_LOGIN_LIMIT_PER_ADDRESS": "1000 per 5 minutes",
    }
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "MAIL_SERVER", "WEB_CONCURRENCY"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "console:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Browser(port).request("GET", "/status")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, "gunicorn stopped"
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.postgres
def test_failed_sign_ins_are_counted_across_worker_processes(app, gunicorn):
    StaffFactory(email="clerk@staff.test", role="clerk")
    db.session.commit()
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(barrier: threading.Barrier) -> None:
        browser = Browser(gunicorn)
        _, page = browser.request("GET", "/login")
        token = csrf_token_from(page)
        barrier.wait(30)
        status, _ = browser.request(
            "POST",
            "/login",
            {"email": "clerk@staff.test", "password": "wrong", "csrf_token": token},
        )
        with lock:
            statuses.append(status)

    for _ in range(5):  # 25 guesses, 5 at a time, spread over the workers
        barrier = threading.Barrier(5)
        threads = [threading.Thread(target=guess, args=(barrier,)) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert len(statuses) == 25
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) <= 5, statuses  # the documented allowance, not 5 per worker
    assert Browser(gunicorn).login("clerk@staff.test", STAFF_PASSWORD) == 429
