"""Records and signed-in clients for the audit and concurrency tests."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent
from tests.factories import StaffFactory
from tests.helpers import Auth, accounts_datastore, alerts, form_fields


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


def open_form(client: FlaskClient, url: str) -> dict[str, str]:
    """GET an edit page and return its form's values, as a browser would hold them."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return form_fields(response.get_data(as_text=True))


def flashes(response) -> str:
    """The text of the page's alert messages."""
    return alerts(response.get_data(as_text=True))
