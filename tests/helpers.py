"""Helpers shared by the tests: sign-in through the real form, reading pages, counts.

Pages are read with an HTML parser (BeautifulSoup), as a browser reads them: a
helper finds elements by tag, attribute and class, never by matching the markup's text.
"""

from __future__ import annotations

import os

import pytest
from alembic.script import ScriptDirectory
from bs4 import BeautifulSoup, Tag
from flask.testing import FlaskClient
from sqlalchemy import func, select

from console.database import db
from console.schema import alembic_config
from tests.factories import STAFF_PASSWORD, StaffFactory, accounts_datastore

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROLES = ["admin", "manager", "clerk", "viewer"]


def require(reason: str) -> None:
    """Skip locally when a real component is missing; fail under CI, where nothing skips."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


# --- reading pages ------------------------------------------------------------------


def parse(html: str) -> BeautifulSoup:
    """``html`` as a document tree (Python's own HTML parser)."""
    return BeautifulSoup(html, "html.parser")


def text_of(element: Tag) -> str:
    """The text a person reads in ``element``, whitespace collapsed."""
    return " ".join(element.get_text(" ").split())


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    field = parse(html).find("input", attrs={"name": "csrf_token"})
    assert field is not None and field.get("value"), "page has no CSRF token"
    return field["value"]


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, the record's version, ...)."""
    found: dict[str, str] = {}
    for field in parse(html).find_all("input", attrs={"type": "hidden", "name": True}):
        found.setdefault(field["name"], field.get("value", ""))
    return found


def form_fields(html: str) -> dict[str, str]:
    """The values of a page's inputs, as a browser would post an edit form back.

    Unticked checkboxes are left out and Flask-Admin's "save and ..." buttons are not
    pressed; a textarea gives its text.
    """
    soup = parse(html)
    fields: dict[str, str] = {}
    for field in soup.find_all("input", attrs={"name": True}):
        if field.get("type") == "checkbox" and not field.has_attr("checked"):
            continue
        if field["name"] in {"_add_another", "_continue_editing"}:
            continue
        fields[field["name"]] = field.get("value", "")
    for area in soup.find_all("textarea", attrs={"name": True}):
        fields[area["name"]] = area.get_text().strip()
    fields["csrf_token"] = csrf_token_from(html)
    return fields


def flashed_errors(html: str) -> list[str]:
    """Texts of the error alerts and field errors on a page."""
    found = parse(html).select(".alert-danger, .invalid-feedback, .help-block")
    return [text for text in map(text_of, found) if text]


def alerts(html: str) -> str:
    """The text of the page's alert messages (flashed messages of every kind)."""
    return " ".join(text_of(alert) for alert in parse(html).select("div.alert"))


def table_rows(html: str) -> list[list[str]]:
    """The data rows of the page's tables (header rows left out), as the texts of their cells."""
    return [
        [text_of(cell) for cell in row.find_all("td")]
        for row in parse(html).select("table tr")
        if row.find("td") and row.find_parent("thead") is None
    ]


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


def snapshot(skip: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every row of every table (but those named in ``skip``), to prove a refused
    request changed nothing."""
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in db.metadata.sorted_tables
            if table.name not in skip
        }


def count_rows(model) -> int:
    """Rows of ``model``'s table as the database has them now."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def submit(client: FlaskClient, url: str, data: dict, **kwargs):
    """Submit the form at ``url`` as a browser would: GET it, then POST what the person
    typed (``data``) with the form's hidden fields (CSRF token, version, ...)."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return client.post(url, data={**hidden_inputs(page.get_data(as_text=True)), **data}, **kwargs)


def migration(name: str) -> tuple[str, str]:
    """The revision of the migration whose file ends in ``_<name>.py``, and the one before.

    Found by name, so a test of one migration stays true when the chain is renumbered.
    """
    script = ScriptDirectory.from_config(alembic_config())
    (found,) = [r for r in script.walk_revisions() if r.path.endswith(f"_{name}.py")]
    assert isinstance(found.down_revision, str)
    return found.revision, found.down_revision


def head_revision() -> str | None:
    """The newest revision of the migration chain."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def export(client: FlaskClient, url: str, **kwargs):
    """Start an export as a list's Export menu does: POST to ``url`` (whose query string
    carries the list's search and filters) with the CSRF token."""
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, **kwargs)


def record_calls(monkeypatch, owner: type, method: str) -> list:
    """Patch ``owner.method`` to note each call's instance, then run the original; the
    list of instances it was called on (empty: never called)."""
    calls: list = []
    original = getattr(owner, method)

    def noted(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, noted)
    return calls
