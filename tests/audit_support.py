"""Records and signed-in clients for the audit and concurrency tests."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent
from tests.factories import StaffFactory
from tests.helpers import Auth, accounts_datastore, csrf_token_from


def events(**where) -> list[AuditEvent]:
    """Events matching ``where``, oldest first, as stored."""
    db.session.expire_all()
    query = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def staff_email(role: str) -> str:
    # example.com: e-mail validation refuses the special-use ".test" domain.
    return f"{role}@example.com"


def signed_in(app: Flask, role: str) -> FlaskClient:
    """A new client (its own cookies) signed in as the staff member holding ``role``."""
    email = staff_email(role)
    if accounts_datastore().find_user(email=email) is None:
        StaffFactory(email=email, role=role)
    client = app.test_client()
    response = Auth(client).login(email)
    assert response.status_code == 302, "sign-in failed"
    return client


def form_fields(html: str) -> dict[str, str]:
    """The values of a page's inputs (enough to post an edit form back)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        unticked = 'type="checkbox"' in tag and "checked" not in tag
        if name and not unticked and name.group(1) not in {"_add_another", "_continue_editing"}:
            fields[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[name] = body.strip()
    fields["csrf_token"] = csrf_token_from(html)
    return fields


def open_form(client: FlaskClient, url: str) -> dict[str, str]:
    """GET an edit page and return its form's values, as a browser would hold them."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return form_fields(response.get_data(as_text=True))


def flashes(response) -> str:
    """The text of the page's alert messages."""
    html = response.get_data(as_text=True)
    return " ".join(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m))
        for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)
    )
