"""The main menu is rendered once per kind of reader and page (console/admin/menu.py),
and still shows each reader exactly their entries, in their language, with the page's
own entry marked."""

from __future__ import annotations

import re

import flask_admin.menu
from sqlalchemy import select

from console.database import db
from console.models import Role
from console.permissions import ROLE_PERMISSIONS
from tests.factories import StaffFactory
from tests.helpers import record_calls


def nav_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    return html[html.index("<nav") : html.index("</nav>")]


def main_menu(nav: str) -> str:
    """The main menu's entries (the account menu beside it carries a CSRF token, which
    is signed with the time)."""
    return nav[nav.index('<ul class="nav navbar-nav mr-auto">') : nav.index("navbar-right")]


def active_entry(nav: str) -> str:
    """The address of the entry marked active."""
    return re.search(r'<li class="active">\s*<a class="nav-link[^"]*" href="([^"]+)"', nav)[1]


def test_the_menu_is_worked_out_once_for_the_same_reader_and_page(client, auth, monkeypatch):
    auth.login_as("manager")
    first = main_menu(nav_of(client, "/admin/order/"))
    asked = record_calls(monkeypatch, flask_admin.menu.MenuView, "is_accessible")
    assert main_menu(nav_of(client, "/admin/order/")) == first
    assert asked == []
    nav_of(client, "/admin/customer/")  # another page: its menu is worked out once
    assert asked


def test_an_edited_role_changes_the_menu_on_the_next_page(client, auth):
    auth.login_as("viewer")
    assert 'href="/admin/audit/"' in nav_of(client, "/admin/order/")
    role = db.session.scalar(select(Role).filter_by(name="viewer"))
    role.permissions = sorted(ROLE_PERMISSIONS["viewer"] - {"audit.read"})
    db.session.commit()
    assert 'href="/admin/audit/"' not in nav_of(client, "/admin/order/")


def test_readers_with_the_same_role_see_the_menu_in_their_own_language(client, auth):
    StaffFactory(email="de@staff.test", role="manager", language="de")
    auth.login_as("manager")
    english = nav_of(client, "/admin/order/")
    auth.logout()
    auth.login("de@staff.test")
    german = nav_of(client, "/admin/order/")
    assert "Orders" in english and "Customers" in english
    assert "Bestellungen" in german and "Kunden" in german
    assert "Bestellungen" not in english


def test_the_pages_own_entry_is_marked(client, auth):
    auth.login_as("manager")
    assert active_entry(nav_of(client, "/admin/order/")) == "/admin/order/"
    assert active_entry(nav_of(client, "/admin/customer/")) == "/admin/customer/"
    assert active_entry(nav_of(client, "/admin/order/")) == "/admin/order/"
