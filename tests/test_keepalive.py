"""The keep-alive endpoint: typing extends the session, asking the time left does not."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.models import StaffSession
from console.models.base import utcnow
from tests.helpers import parse

pytestmark = pytest.mark.settings(CONSOLE_IDLE_TIMEOUT=dt.timedelta(minutes=10))

URL = "/admin/keepalive/"
MINUTE = 60


def page_settings(client) -> dict[str, str]:
    """The data- attributes the pages give their session script."""
    page = parse(client.get("/admin/").get_data(as_text=True))
    notice = page.find(id="session-notice")
    assert notice is not None, "the page carries no session notice"
    return {name: value for name, value in notice.attrs.items() if name.startswith("data-")}


def still_signed_in(client) -> bool:
    response = client.get("/admin/")
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
        return False
    assert response.status_code == 200
    return True


def last_seen() -> dt.datetime:
    db.session.expire_all()
    return db.session.scalar(select(StaffSession.last_seen_at))


def test_pages_give_the_script_the_timeout_and_keepalive_address(client, auth):
    assert parse(client.get("/login").get_data(as_text=True)).find(id="session-notice") is None
    auth.login_as("clerk")
    settings = page_settings(client)
    assert settings["data-idle-timeout-seconds"] == "600"
    assert settings["data-keepalive-url"] == URL
    assert settings["data-login-url"] == "/login"
    assert settings["data-csrf-token"]
    scripts = [tag.get("src", "") for tag in parse(client.get("/admin/").text).find_all("script")]
    assert any(src.endswith("/static/js/session.js") for src in scripts)
    assert client.get("/static/js/session.js").status_code == 200


def test_typing_keeps_the_session_alive(client, auth, clock):
    auth.login_as("clerk")
    token = page_settings(client)["data-csrf-token"]
    signed_in_at = last_seen()

    clock.shift(8 * MINUTE)
    response = client.post(URL, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.get_json() == {"signed_in": True, "seconds_left": 600}
    # Both clocks of the session moved: the server-side row's and the signed cookie's.
    assert last_seen() == utcnow()
    assert last_seen() - signed_in_at == dt.timedelta(minutes=8)

    clock.shift(8 * MINUTE)  # 16 minutes after the last page, 8 after the typing
    assert still_signed_in(client)


def test_without_typing_the_same_session_ends(client, auth, clock):
    """The control of the test above: nothing sent, the session ends."""
    auth.login_as("clerk")
    clock.shift(8 * MINUTE)
    clock.shift(8 * MINUTE)
    assert not still_signed_in(client)


def test_asking_the_time_left_is_no_activity(client, auth, clock):
    auth.login_as("clerk")
    page_settings(client)
    signed_in_at = last_seen()
    for left in (480, 360, 240, 120):
        clock.shift(2 * MINUTE)
        response = client.get(URL)
        assert response.status_code == 200
        assert response.get_json() == {"signed_in": True, "seconds_left": left}
    assert last_seen() == signed_in_at

    clock.shift(2 * MINUTE + 1)
    ended = client.get(URL)
    assert ended.status_code == 401
    assert ended.get_json()["signed_in"] is False
    assert not still_signed_in(client)


def test_an_ended_session_gets_401_json_rather_than_a_redirect(client, auth, clock):
    auth.login_as("clerk")
    token = page_settings(client)["data-csrf-token"]
    clock.shift(10 * MINUTE + 1)
    response = client.post(URL, headers={"X-CSRFToken": token})
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json() == {"signed_in": False, "login_url": "/login"}
    assert "Location" not in response.headers
    # The person is signed out for good: typing afterwards does not bring the session back.
    assert client.post(URL, headers={"X-CSRFToken": token}).status_code == 401
    assert not still_signed_in(client)


def test_a_session_ended_on_the_server_gets_401(client, auth):
    auth.login_as("clerk")
    token = page_settings(client)["data-csrf-token"]
    db.session.execute(StaffSession.__table__.delete())
    db.session.commit()
    assert client.post(URL, headers={"X-CSRFToken": token}).status_code == 401


def test_visitors_who_never_signed_in_get_401(client):
    for response in (client.get(URL), client.post(URL)):
        assert response.status_code == 401
        assert response.get_json()["signed_in"] is False


def test_keeping_alive_needs_the_csrf_token(client, auth, clock):
    auth.login_as("clerk")
    page_settings(client)
    clock.shift(8 * MINUTE)
    refused = client.post(URL, headers={"X-CSRFToken": "forged"})
    assert refused.status_code == 400
    assert refused.get_json()["signed_in"] is True
    assert client.post(URL).status_code == 400
    clock.shift(2 * MINUTE + 1)  # the refused calls extended nothing
    assert not still_signed_in(client)


def test_the_browsers_own_icon_request_is_no_activity(client, auth, clock):
    """Browsers ask for /favicon.ico by themselves, often well after the page loaded:
    that request must not keep an unattended page signed in."""
    auth.login_as("clerk")
    page_settings(client)
    signed_in_at = last_seen()
    clock.shift(8 * MINUTE)
    assert client.get("/favicon.ico").status_code == 204
    assert last_seen() == signed_in_at
    assert client.get(URL).get_json() == {"signed_in": True, "seconds_left": 120}
