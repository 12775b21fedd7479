"""Hardened sign-in: redirects, generic messages, rate limits, 2FA, reset mail, cookies."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, User
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD, Auth, count_rows, csrf_token_from, parse, text_of

NEW_PASSWORD = "a brand new passphrase for the console"

# Short windows, so that a limit is reached and recovers within a test.
pytestmark = pytest.mark.settings(
    CONSOLE_LOGIN_LIMIT_PER_ACCOUNT="3 per 3 seconds",
    CONSOLE_LOGIN_LIMIT_PER_ADDRESS="5 per 3 seconds",
)


def messages(html: str) -> list[str]:
    """The flashed and form error messages of a page, as a person reads them."""
    soup = parse(html)
    found = soup.select(".fs-error-msg")
    found += [
        item
        for item in soup.find_all("li", class_=True)
        if any(kind in name for name in item["class"] for kind in ("error", "info", "success"))
    ]
    found += soup.select("ul.flashes")
    return [text for text in map(text_of, found) if text]


def user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


# --- where sign-in leads -------------------------------------------------------------


def test_anonymous_is_sent_to_login_and_back(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    response = client.get("/admin/customer/?sort=1")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    next_url = parse_qs(location.query)["next"][0]
    assert next_url == "/admin/customer/?sort=1"

    page = client.get(f"/login?next={next_url}")
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"email": "clerk@staff.test", "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/customer/"
    assert client.get("/admin/customer/").status_code == 200


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/steal", "//evil.example/steal", "http://evil.example"]
)
def test_login_never_redirects_to_another_site(client, next_url):
    StaffFactory(email="clerk@staff.test", role="clerk")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"email": "clerk@staff.test", "password": STAFF_PASSWORD, "csrf_token": token},
    )
    # Flask-Security refuses the sign-in with a message rather than leave the site.
    assert response.status_code == 200
    assert "Redirections outside the domain are forbidden" in messages(response.text)
    assert "evil" not in response.headers.get("Location", "")


def test_signed_in_without_permission_gets_friendly_403(client, auth):
    auth.login_as("clerk")
    response = client.get("/admin/staff_user/")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "Not allowed" in html and "ask an administrator" in html


def test_account_without_role_sees_nothing(client, auth):
    StaffFactory(email="nobody@staff.test", role=None)
    auth.login("nobody@staff.test")
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/customer/").status_code == 403


# --- no user enumeration --------------------------------------------------------------


def test_unknown_account_and_wrong_password_look_the_same(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    unknown = auth.login("nobody@staff.test", "whatever password")
    wrong = auth.login("clerk@staff.test", "wrong password")
    assert unknown.status_code == wrong.status_code == 200
    assert messages(unknown.get_data(as_text=True)) == messages(wrong.get_data(as_text=True))
    assert messages(wrong.get_data(as_text=True)), "the page should explain the refusal"
    assert user("clerk@staff.test").current_login_at is None


def test_reset_request_does_not_tell_who_has_an_account(client):
    StaffFactory(email="clerk@staff.test", role="clerk")

    def ask(email: str) -> list[str]:
        token = csrf_token_from(client.get("/reset").get_data(as_text=True))
        response = client.post("/reset", data={"email": email, "csrf_token": token})
        assert response.status_code == 200
        return messages(response.get_data(as_text=True))

    known, unknown = ask("clerk@staff.test"), ask("nobody@staff.test")
    assert known, "the page should confirm the request"
    assert [m.replace("clerk@", "X@") for m in known] == [
        m.replace("nobody@", "X@") for m in unknown
    ]


def test_disabled_account_cannot_sign_in(client, auth):
    account = StaffFactory(email="gone@staff.test", role="clerk")
    account.active = False
    db.session.commit()
    response = auth.login("gone@staff.test")
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


# --- passwords ------------------------------------------------------------------------


def test_passwords_are_stored_as_bcrypt_hashes(app):
    StaffFactory(email="clerk@staff.test", role="clerk")
    with db.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT password FROM staff_user WHERE email = 'clerk@staff.test'"
        ).scalar_one()
    assert stored.startswith("$2b$") and len(stored) == 60
    assert STAFF_PASSWORD not in stored


def test_change_password_checks_strength_then_changes(client, auth):
    auth.login_as("clerk")
    token = csrf_token_from(client.get("/change").get_data(as_text=True))
    weak = client.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": "password1234",
            "new_password_confirm": "password1234",
            "csrf_token": token,
        },
    )
    assert weak.status_code == 200
    assert set(messages(weak.text)) == {"This is a very common password."}
    assert user("clerk@staff.test").verify_and_update_password(STAFF_PASSWORD)

    short = client.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": "Tr0ub4d&r",
            "new_password_confirm": "Tr0ub4d&r",
            "csrf_token": token,
        },
    )
    assert short.status_code == 200
    assert "12" in " ".join(messages(short.text))

    good = client.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert good.status_code == 302
    assert user("clerk@staff.test").verify_and_update_password(NEW_PASSWORD)


# --- sign-in tracking, cookies, idle timeout ------------------------------------------


def test_sign_in_is_tracked(client, auth):
    auth.login_as("clerk")
    account = user("clerk@staff.test")
    assert account.login_count == 1
    assert account.current_login_at is not None
    assert account.current_login_ip == "127.0.0.1"


def test_session_cookie_flags(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    response = auth.login("clerk@staff.test")
    cookie = next(
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    # A browser-session cookie: Flask-Login's strong protection applies only to those.
    assert "Expires=" not in cookie


def test_production_cookies_are_secure_and_require_2fa_for_admins(monkeypatch):
    import config

    monkeypatch.delenv("CONSOLE_REQUIRE_2FA_PERMISSIONS", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", "y" * 40)
    monkeypatch.setenv("SECURITY_TOTP_SECRET", "z" * 40)
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.shop.test")
    production = config.load("production")
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["REMEMBER_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production["CONSOLE_REQUIRE_2FA_PERMISSIONS"] == ["staff.manage"]
    assert config.load("development")["CONSOLE_REQUIRE_2FA_PERMISSIONS"] == []
    monkeypatch.delenv("SECURITY_TOTP_SECRET")
    with pytest.raises(RuntimeError, match="SECURITY_TOTP_SECRET"):
        config.load("production")


@pytest.mark.settings(CONSOLE_IDLE_TIMEOUT=dt.timedelta(seconds=90))
def test_idle_session_signs_out(client, auth, clock):
    auth.login_as("clerk")
    for _ in range(3):  # activity keeps the session alive past the timeout
        clock.shift(60)
        assert client.get("/admin/").status_code == 200
    clock.shift(91)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "without activity" in page
    assert auth.login("clerk@staff.test").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_tampered_session_cookie_signs_out(client, auth):
    auth.login_as("clerk")
    assert client.get("/admin/").status_code == 200
    cookie = client.get_cookie("session", domain="console.test")
    value = cookie.value
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    client.set_cookie("session", tampered, domain="console.test")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_session_from_another_browser_is_dropped(client, auth):
    """Flask-Login's strong session protection: a copied cookie does not work elsewhere."""
    auth.login_as("clerk")
    assert client.get("/admin/").status_code == 200
    response = client.get("/admin/", headers={"User-Agent": "SomethingElse/1.0"})
    assert response.status_code == 302


# --- CSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_form_without_valid_csrf_token_changes_nothing(client, auth, token):
    auth.login_as("clerk")
    data = {"first_name": "Eve", "last_name": "Forger", "email": "eve@example.com"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/admin/customer/new/", data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert count_rows(Customer) == 0


def test_login_form_needs_csrf_token(client):
    StaffFactory(email="clerk@staff.test", role="clerk")
    response = client.post("/login", data={"email": "clerk@staff.test", "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_list_actions_carry_csrf_tokens(client, auth):
    db.session.add(Customer(first_name="A", last_name="B", email="ab@example.com"))
    db.session.commit()
    auth.login_as("manager")
    html = client.get("/admin/customer/").get_data(as_text=True)
    forms = [f for f in parse(html).find_all("form") if f.get("method", "").upper() == "POST"]
    assert forms
    for form in forms:
        assert form.find("input", attrs={"name": "csrf_token"}), str(form)[:200]


# --- headers ---------------------------------------------------------------------------


def test_security_headers_and_csp_nonce(client, auth):
    pages = [client.get("/login")]
    auth.login_as("manager")
    pages += [client.get(path) for path in ["/admin/", "/admin/order/new/", "/change"]]
    for response in pages:
        path = response.request.path
        assert response.status_code == 200, path
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'self'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        page = parse(response.get_data(as_text=True))
        for script in page.find_all("script"):
            assert script.get("nonce") == nonce, (path, str(script)[:200])
        links = [tag.get(a) for tag in page.find_all(True) for a in ("src", "href") if tag.get(a)]
        assert not [link for link in links if link.startswith("https://")], (path, links)


# --- rate limits ------------------------------------------------------------------------


def test_failed_logins_are_limited_per_account_then_recover(client, auth, clock):
    StaffFactory(email="clerk@staff.test", role="clerk")
    for _ in range(3):
        assert auth.login("clerk@staff.test", "wrong password").status_code == 200
    blocked = auth.login("clerk@staff.test")  # even the right password waits
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    wait = int(blocked.headers["Retry-After"])
    assert 1 <= wait <= 4
    assert client.get("/admin/").status_code == 302  # not signed in

    clock.shift(1)  # within the window: still refused
    assert auth.login("clerk@staff.test").status_code == 429
    clock.shift(wait)
    assert auth.login("clerk@staff.test").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_failed_logins_are_limited_per_address(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    for i in range(5):
        assert auth.login(f"guess{i}@staff.test", "wrong password").status_code == 200
    assert auth.login("clerk@staff.test").status_code == 429


def test_successful_logins_do_not_use_up_the_limit(client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    for _ in range(4):
        assert auth.login("clerk@staff.test").status_code == 302
        auth.logout()


def test_limits_are_kept_in_redis_when_configured(database_url, redis_server, make_app):
    """With REDIS_URL every host shares the counters: a second app sees the first's."""
    import redis

    redis_url = redis_server.url
    settings = {"REDIS_URL": redis_url, "CONSOLE_LOGIN_LIMIT_PER_ACCOUNT": "2 per 30 seconds"}
    first = make_app(database_url, **settings)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    with first.app_context():
        StaffFactory(email="clerk@staff.test", role="clerk")
        client = first.test_client()
        for _ in range(2):
            assert Auth(client).login("clerk@staff.test", "wrong").status_code == 200
        db.session.remove()
        db.engine.dispose()
    # The per-address counters live in Redis (the per-account lockout in the database).
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert any(b"login-address" in key for key in keys), keys

    second = make_app(database_url, **settings)
    with second.app_context():
        assert Auth(second.test_client()).login("clerk@staff.test").status_code == 429


# --- two-factor sign-in -------------------------------------------------------------------


def _verify_form_action(html: str) -> str:
    form = parse(html).find("form", attrs={"name": "two_factor_verify_code_form"})
    assert form is not None, "no code form on the page"
    return form["action"]


def _totp_secret(html: str) -> str:
    """The authenticator secret the set-up page shows (base32, grouped with dashes)."""
    [secret] = [
        text
        for div in parse(html).find_all("div")
        if not div.find() and re.fullmatch(r"[A-Z2-7-]{16,}", text := div.get_text(strip=True))
    ]
    return secret.replace("-", "")


def current_email(client) -> str:
    html = client.get("/admin/").get_data(as_text=True)
    return parse(html).find(attrs={"title": "Signed in"}).get_text(strip=True)


def _set_up_authenticator(client) -> str:
    """Turn on TOTP for the signed-in person; returns the secret the app would hold."""
    page = client.get("/tf-setup")
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))
    chosen = client.post("/tf-setup", data={"setup": "authenticator", "csrf_token": token})
    html = chosen.get_data(as_text=True)
    assert chosen.status_code == 200, html[:300]
    assert 'src="data:image' in html  # the QR code, inline, no external service
    secret = _totp_secret(html)
    action = _verify_form_action(html)
    client.post(action, data={"code": "000000", "csrf_token": token})
    assert user(current_email(client)).tf_primary_method is None  # a wrong code sets nothing
    done = client.post(action, data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    return secret


def test_totp_two_factor_sign_in(client, auth, clock):
    auth.login_as("clerk")
    secret = _set_up_authenticator(client)
    assert user("clerk@staff.test").tf_primary_method == "authenticator"
    auth.logout()
    clock.shift(30)  # the set-up used this time step's code; a code works once

    response = auth.login("clerk@staff.test")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/tf-validate"
    assert client.get("/admin/").status_code == 302  # password alone is not enough

    page = client.get("/tf-validate")
    token = csrf_token_from(page.get_data(as_text=True))
    wrong = client.post("/tf-validate", data={"code": "123456", "csrf_token": token})
    assert wrong.status_code == 200
    assert client.get("/admin/").status_code == 302

    code = pyotp.TOTP(secret).now()
    right = client.post("/tf-validate", data={"code": code, "csrf_token": token})
    assert right.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_two_factor_codes_are_rate_limited(client, auth):
    auth.login_as("clerk")
    _set_up_authenticator(client)
    auth.logout()
    auth.login("clerk@staff.test")
    token = csrf_token_from(client.get("/tf-validate").get_data(as_text=True))
    statuses = [
        client.post("/tf-validate", data={"code": "000000", "csrf_token": token}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.settings(CONSOLE_REQUIRE_2FA_PERMISSIONS=["staff.manage"])
def test_two_factor_required_for_permission_holders(app, client, auth):
    """Under CONSOLE_REQUIRE_2FA_PERMISSIONS (production: staff.manage), an admin
    must set up an authenticator before reaching the console; a clerk need not."""
    StaffFactory(email="admin@staff.test", role="admin")
    response = auth.login("admin@staff.test")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/tf-setup"
    assert client.get("/admin/").status_code == 302

    page = client.get("/tf-setup")
    token = csrf_token_from(page.get_data(as_text=True))
    chosen = client.post("/tf-setup", data={"setup": "authenticator", "csrf_token": token})
    html = chosen.get_data(as_text=True)
    secret = _totp_secret(html)
    done = client.post(
        _verify_form_action(html),
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
    )
    assert done.status_code == 302
    assert client.get("/admin/").status_code == 200
    auth.logout()

    StaffFactory(email="clerk@staff.test", role="clerk")
    response = auth.login("clerk@staff.test")
    assert urlsplit(response.headers["Location"]).path == "/admin/"
