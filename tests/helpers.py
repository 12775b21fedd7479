"""Helpers shared by the tests: sign-in through the real form, CSRF tokens, counts."""

from __future__ import annotations

import os
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from console.database import db
from tests.factories import STAFF_PASSWORD, StaffFactory, accounts_datastore

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROLES = ["admin", "manager", "clerk", "viewer"]


def require(reason: str) -> None:
    """Skip locally when a real component is missing; fail under CI, where nothing skips."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


_CSRF_RE = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = _CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class Auth:
    """Signs a test client in through the real login form (CSRF included)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = STAFF_PASSWORD, follow: bool = False):
        page = self.client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=follow,
        )

    def login_as(self, role: str):
        """Create (once) and sign in the staff member holding ``role``."""
        email = f"{role}@staff.test"
        if accounts_datastore().find_user(email=email) is None:
            StaffFactory(email=email, role=role)
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return accounts_datastore().find_user(email=email)

    def logout(self):
        page = self.client.get("/admin/")
        token = csrf_token_from(page.get_data(as_text=True))
        return self.client.post("/logout", data={"csrf_token": token})


def form_token(client: FlaskClient, url: str) -> str:
    """GET ``url`` and return the CSRF token of its form."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return csrf_token_from(response.get_data(as_text=True))


def count_rows(model) -> int:
    """Rows of ``model``'s table as the database has them now."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


_HIDDEN_RE = re.compile(r"<input[^>]*>")


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, the record's version, ...)."""
    found = {}
    for tag in _HIDDEN_RE.findall(html):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and name.group(1) not in found:
            found[name.group(1)] = value.group(1) if value else ""
    return found


def submit(client: FlaskClient, url: str, data: dict, **kwargs):
    """Submit the form at ``url`` as a browser would: GET it, then POST what the person
    typed (``data``) with the form's hidden fields (CSRF token, version, ...)."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return client.post(url, data={**hidden_inputs(page.get_data(as_text=True)), **data}, **kwargs)


def flashed_errors(html: str) -> list[str]:
    """Texts of the error alerts and field errors on a page."""
    found = re.findall(r'class="alert alert-danger[^"]*"[^>]*>(.*?)</div>', html, re.S)
    found += re.findall(r'class="[^"]*invalid-feedback[^"]*"[^>]*>(.*?)</', html, re.S)
    found += re.findall(r'class="help-block[^"]*"[^>]*>(.*?)</', html, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", f).strip() for f in found if f.strip()]
