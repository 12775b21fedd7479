"""Saved filters: each person keeps a list's filters and sort under a name and reopens them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from console.admin.registry import find_view
from console.database import db
from console.models import SavedFilter
from tests.factories import StaffFactory
from tests.helpers import alerts, count_rows, csrf_token_from, parse, text_of


@pytest.fixture
def staff(app):
    return {
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
        "other": StaffFactory(email="other@staff.test", role="manager"),
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
    }


def sortable_index(app, endpoint: str) -> int:
    """A column the list can be sorted by, as its header links give it."""
    view = find_view(app, endpoint)
    names = [name for name, _label in view._list_columns]
    return next(i for i, name in enumerate(names) if name in view._sortable_columns)


def save_from_list(client, address: str, name: str):
    """On the list at ``address``, type ``name`` in the Saved filters menu and save."""
    page = client.get(address)
    assert page.status_code == 200
    form = parse(page.get_data(as_text=True)).select_one("form.saved-filter-form")
    assert form is not None, "the list has no Saved filters form"
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    return client.post(form["action"], data={**fields, "name": name})


def menu(client, address: str) -> dict[str, str]:
    """The Saved filters menu of the list at ``address``: name -> address that opens it."""
    soup = parse(client.get(address).get_data(as_text=True))
    return {
        text_of(link): link["href"]
        for link in soup.select(".saved-filters-menu .saved-filter a.dropdown-item")
    }


def test_a_manager_saves_the_lists_filters_and_sort_and_reopens_them(client, auth, app, staff):
    sort = sortable_index(app, "order")
    auth.login("manager@staff.test")
    address = f"/admin/order/?flt0_0=pending&sort={sort}&desc=1&page=2&search=ada"
    saved = save_from_list(client, address, "  Pending,   newest first ")
    assert saved.status_code == 302
    assert 'Saved filter "Pending, newest first" kept' in alerts(
        client.get(saved.headers["Location"]).get_data(as_text=True)
    )
    entries = menu(client, "/admin/order/")
    assert list(entries) == ["Pending, newest first"]
    opened = client.get(entries["Pending, newest first"])
    assert opened.status_code == 302
    target = urlsplit(opened.headers["Location"])
    assert target.path == "/admin/order/"
    # Everything but the page number, which belongs to the moment, not to the view.
    assert parse_qs(target.query) == {
        "flt0_0": ["pending"],
        "sort": [str(sort)],
        "desc": ["1"],
        "search": ["ada"],
    }
    # Saved for this person and this list only.
    assert menu(client, "/admin/customer/") == {}
    auth.logout()
    auth.login("other@staff.test")
    assert menu(client, "/admin/order/") == {}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the saved filter a name."),
        ("x" * 81, "at most 80 characters"),
        ("PENDING", 'You already have a saved filter named "PENDING" on this list'),
    ],
)
def test_a_bad_name_gets_a_message_and_saves_nothing(client, auth, staff, name, message):
    auth.login("manager@staff.test")
    assert save_from_list(client, "/admin/order/?flt0_0=pending", "Pending").status_code == 302
    before = count_rows(SavedFilter)
    response = save_from_list(client, "/admin/order/?flt0_0=approved", name)
    assert response.status_code == 302
    assert message in alerts(client.get(response.headers["Location"]).get_data(as_text=True))
    assert count_rows(SavedFilter) == before


def test_filters_that_do_not_fit_the_list_are_not_saved(client, auth, staff):
    auth.login("manager@staff.test")
    page = client.get("/admin/order/").get_data(as_text=True)
    response = client.post(
        "/admin/saved-filters/save/",
        data={
            "csrf_token": csrf_token_from(page),
            "list": "order",
            "query": "flt0_99=x",
            "name": "Broken",
        },
    )
    assert response.status_code == 302
    assert "cannot be saved: one of its filters no longer exists" in alerts(
        client.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert count_rows(SavedFilter) == 0


@pytest.mark.parametrize(
    "query",
    ["flt0_99=x", "flt0_0=pending&sort=999", "desc=maybe", "page_size=7", "colour=red"],
)
def test_a_saved_filter_that_no_longer_fits_opens_the_whole_list(client, auth, staff, query):
    db.session.add(
        SavedFilter(owner_id=staff["manager"].id, endpoint="order", name="Old", list_query=query)
    )
    db.session.commit()
    auth.login("manager@staff.test")
    opened = client.get(menu(client, "/admin/order/")["Old"])
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/admin/order/")
    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert 'The saved filter "Old" no longer fits this list' in alerts(page)


def test_another_persons_saved_filter_is_not_found(client, auth, staff):
    auth.login("other@staff.test")
    assert save_from_list(client, "/admin/order/?flt0_0=pending", "Mine").status_code == 302
    saved = db.session.scalar(select(SavedFilter))
    auth.logout()
    auth.login("manager@staff.test")
    token = csrf_token_from(client.get("/admin/order/").get_data(as_text=True))
    assert client.get(f"/admin/saved-filters/{saved.id}/").status_code == 404
    deleted = client.post(f"/admin/saved-filters/{saved.id}/delete/", data={"csrf_token": token})
    assert deleted.status_code == 404
    assert count_rows(SavedFilter) == 1


def test_a_list_the_person_may_not_read_is_refused(client, auth, staff):
    auth.login("clerk@staff.test")
    token = csrf_token_from(client.get("/admin/order/").get_data(as_text=True))
    for listing, status in (("pending_order", 403), ("no_such_list", 404), ("jobs", 404)):
        response = client.post(
            "/admin/saved-filters/save/",
            data={"csrf_token": token, "list": listing, "query": "", "name": "Queue"},
        )
        assert response.status_code == status, listing
    assert count_rows(SavedFilter) == 0
    # A filter saved while the person could read the list does not open it afterwards.
    db.session.add(
        SavedFilter(owner_id=staff["clerk"].id, endpoint="pending_order", name="Q", list_query="")
    )
    db.session.commit()
    saved_id = db.session.scalar(select(SavedFilter.id))
    assert client.get(f"/admin/saved-filters/{saved_id}/").status_code == 403


def test_deleting_a_saved_filter(client, auth, staff):
    auth.login("manager@staff.test")
    save_from_list(client, "/admin/order/?flt0_0=pending", "Pending")
    soup = parse(client.get("/admin/order/").get_data(as_text=True))
    form = soup.select_one(".saved-filters-menu .saved-filter form")
    button = form.find("button")
    assert button["aria-label"] == "Delete saved filter Pending"
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    response = client.post(form["action"], data=fields)
    assert response.status_code == 302
    assert 'Saved filter "Pending" deleted.' in alerts(
        client.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert count_rows(SavedFilter) == 0
    assert menu(client, "/admin/order/") == {}


def test_the_saved_filters_page_lists_them_by_list_and_deletes_there(client, auth, staff):
    db.session.add_all(
        [
            SavedFilter(owner_id=staff["clerk"].id, endpoint="order", name="Mine", list_query=""),
            # A list the clerk may not read (any more): not offered.
            SavedFilter(
                owner_id=staff["clerk"].id, endpoint="pending_order", name="Queue", list_query=""
            ),
            SavedFilter(owner_id=staff["other"].id, endpoint="order", name="Theirs", list_query=""),
        ]
    )
    db.session.commit()
    auth.login("clerk@staff.test")
    page = parse(client.get("/admin/saved-filters/").get_data(as_text=True))
    rows = [[text_of(td) for td in tr.find_all("td")] for tr in page.select("tbody tr")]
    assert [row[:2] for row in rows] == [["Orders", "Mine"]]
    form = page.select_one("tbody form")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    response = client.post(form["action"], data=fields)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/saved-filters/"
    page = parse(client.get("/admin/saved-filters/").get_data(as_text=True))
    assert page.find(id="no-saved-filters") is not None
    assert count_rows(SavedFilter) == 2
