"""No "remember me": a remember cookie, old or new, opens nothing on its own."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask_login.utils import encode_cookie

from tests.helpers import csrf_token_from, parse

PROTECTED = ["/admin/", "/admin/staff_user/", "/admin/audit/", "/admin/order/"]


def test_the_login_form_offers_no_remember_me(client):
    form = parse(client.get("/login").get_data(as_text=True)).find("form")
    assert form.find("input", attrs={"name": "remember"}) is None


def test_asking_to_be_remembered_sets_no_remember_cookie(client, auth):
    from tests.factories import STAFF_PASSWORD, StaffFactory

    StaffFactory(email="admin@staff.test", role="admin")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "email": "admin@staff.test",
            "password": STAFF_PASSWORD,
            "remember": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get_cookie("remember_token", domain="console.test") is None
    set_cookies = response.headers.getlist("Set-Cookie")
    remember = [value for value in set_cookies if value.startswith("remember_token=")]
    assert all(value.startswith("remember_token=;") for value in remember)  # only deletions


@pytest.mark.parametrize("path", PROTECTED)
def test_an_old_remember_cookie_alone_opens_nothing(app, auth, path):
    """A remember_token cookie as Flask-Login wrote it, sent by another browser."""
    admin = auth.login_as("admin")
    cookie = encode_cookie(admin.fs_uniquifier)  # what "remember me" used to set
    auth.logout()

    stranger = app.test_client()
    stranger.set_cookie("remember_token", cookie, domain="console.test")
    response = stranger.get(path, headers={"User-Agent": "SomeoneElse/1.0"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    # The refused cookie is deleted as well.
    assert stranger.get_cookie("remember_token", domain="console.test") is None
