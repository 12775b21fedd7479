"""Helpers shared by the tests: sign-in through the real form, CSRF tokens, counts."""

from __future__ import annotations

import os
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from console.extensions import db

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
STAFF_PASSWORD = "correct horse battery staple"
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


def create_staff(email: str, role: str | None, password: str = STAFF_PASSWORD):
    """A staff account with ``role`` (None: no role at all)."""
    from flask_security import hash_password

    from console.extensions import security

    datastore = security.datastore
    roles = [datastore.find_role(role)] if role else []
    user = datastore.create_user(
        email=email, password=hash_password(password), active=True, roles=roles
    )
    db.session.commit()
    return user


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
        from console.extensions import security

        email = f"{role}@staff.test"
        if security.datastore.find_user(email=email) is None:
            create_staff(email, role)
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return security.datastore.find_user(email=email)

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
