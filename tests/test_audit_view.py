"""The Audit view: read-only for everyone, filters, search, CSV export, History links."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import parse_qs, urlsplit

import pytest

from console.database import db
from console.models import AuditEvent
from tests.audit_support import (
    events,
    signed_in,
    staff_email,
)
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.helpers import ROLES, csrf_token_from, export, parse

WRITE_ENDPOINTS = [
    # The view has no create, edit, delete or inline-edit route at all (404); the list
    # actions route exists for every model view and refuses every action (403).
    ("get", "/admin/audit/new/", 404),
    ("post", "/admin/audit/new/", 404),
    ("get", "/admin/audit/edit/?id=1", 404),
    ("post", "/admin/audit/edit/?id=1", 404),
    ("post", "/admin/audit/delete/", 404),
    ("post", "/admin/audit/action/", 403),
    ("post", "/admin/audit/ajax/update/", 404),
]


def listed_ids(response) -> list[int]:
    """Event ids on a list page, in page order (from the details links)."""
    links = parse(response.get_data(as_text=True)).select('a[href*="/admin/audit/details/"]')
    return [int(parse_qs(urlsplit(link["href"]).query)["id"][0]) for link in links]


def test_write_endpoints_of_the_trail_are_refused_for_every_role(app):
    CustomerFactory()
    [event] = events(record_type="customer")
    event_id = event.id
    for role in ROLES:
        browser = signed_in(app, role)
        token = csrf_token_from(browser.get("/admin/").get_data(as_text=True))
        for method, url, answer in WRITE_ENDPOINTS:
            data = {"csrf_token": token, "id": str(event_id), "rowid": str(event_id)}
            data.update({"action": "delete", "note": "tampered", "list_form_pk": str(event_id)})
            response = (
                getattr(browser, method)(url, data=data) if method == "post" else (browser.get(url))
            )
            assert response.status_code == answer, (role, method, url, response.status_code)
    [event] = events(record_type="customer")
    assert event.id == event_id and event.note is None and event.action == "create"


def test_the_trail_has_no_write_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    audit_endpoints = {e for e in endpoints if e.startswith("audit.")}
    assert {"audit.index_view", "audit.details_view", "audit.export"} <= audit_endpoints
    for write in ("create_view", "edit_view", "delete_view", "ajax_update"):
        assert f"audit.{write}" not in audit_endpoints
        assert f"customer.{write}" in endpoints  # the other views keep theirs


def test_clerk_cannot_read_the_trail_and_anonymous_is_sent_to_login(app):
    clerk = signed_in(app, "clerk")
    assert clerk.get("/admin/audit/").status_code == 403
    assert export(clerk, "/admin/audit/export/csv/").status_code == 403
    anonymous = app.test_client().get("/admin/audit/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_readers_see_events_with_readable_diffs(app, role):
    customer = CustomerFactory(phone="+33 6 00")
    customer.phone = "+33 6 11"
    db.session.commit()
    browser = signed_in(app, role)
    page = browser.get("/admin/audit/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "+33 6 00" in html and "+33 6 11" in html and "audit-diff" in html
    # Nobody is offered a way to change the trail.
    assert "/admin/audit/new/" not in html and "/admin/audit/edit/" not in html
    details = browser.get(f"/admin/audit/details/?id={events(action='update')[0].id}")
    assert details.status_code == 200 and "+33 6 11" in details.get_data(as_text=True)


def test_history_link_shows_the_record_events_newest_first(app):
    customer = CustomerFactory()
    other = CustomerFactory(first_name="Ben", email="ben@example.com")
    for phone in ("+1", "+2", "+3"):
        customer.phone = phone
        db.session.commit()
    other.phone = "+9"
    db.session.commit()
    manager = signed_in(app, "manager")
    for page in (
        f"/admin/customer/details/?id={customer.id}",
        f"/admin/customer/edit/?id={customer.id}",
    ):
        html = manager.get(page).get_data(as_text=True)
        [link] = [a["href"] for a in parse(html).select("a.history-link")]
    history = manager.get(link)
    wanted = [e.id for e in events(record_type="customer", record_id=customer.id)]
    assert len(wanted) == 4
    assert listed_ids(history) == sorted(wanted, reverse=True)


def test_order_history_includes_its_lines(app):
    order = OrderFactory(
        customer=CustomerFactory(),
        lines=[(ProductFactory(sku="SKU-1"), 1), (ProductFactory(sku="SKU-2"), 2)],
    )
    manager = signed_in(app, "manager")
    html = manager.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True)
    [link] = [a["href"] for a in parse(html).select("a.history-link")]
    shown = listed_ids(manager.get(link))
    mine = [e.id for e in events() if e.record_type == "order" or e.parent_id == order.id]
    assert sorted(shown) == sorted(mine) and len(mine) == 3


def test_clerk_sees_no_history_link(app):
    customer = CustomerFactory()
    clerk = signed_in(app, "clerk")
    html = clerk.get(f"/admin/customer/details/?id={customer.id}").get_data(as_text=True)
    assert "history-link" not in html


def test_filters_by_person_record_action_and_date(app):
    CustomerFactory()
    manager = signed_in(app, "manager")
    product = ProductFactory()
    old = AuditEvent(
        at=dt.datetime(2020, 1, 1, 12, 0),
        actor_email="former@example.com",
        action="update",
        record_type="product",
        record_id=product.id,
        changes={"stock": [1, 2]},
    )
    db.session.add(old)
    db.session.commit()
    everything = {e.id for e in events()}

    def ids(query: str) -> set[int]:
        response = manager.get("/admin/audit/?" + query)
        assert response.status_code == 200, query
        return set(listed_ids(response))

    by_person = {e.id for e in events(actor_email=staff_email("manager"))}
    assert ids(f"flt1_person_equals={staff_email('manager')}") == by_person
    assert ids("flt1_record_type_equals=product") == {e.id for e in events(record_type="product")}
    assert ids(f"flt1_record_id_equals={product.id}&flt2_record_type_equals=product") == {
        e.id for e in events(record_type="product", record_id=product.id)
    }
    assert ids("flt1_action_equals=login") == {e.id for e in events(action="login")}
    assert ids("flt1_when_between=2019-12-31+00:00:00+to+2020-01-02+00:00:00") == {old.id}
    assert ids("flt1_when_smaller_than=2021-01-01+00:00:00") == {old.id}
    assert ids("search=former@example") == {old.id}
    assert ids("") == everything


def test_csv_export_is_readable_and_neutralises_formulas(app):
    CustomerFactory(first_name='=HYPERLINK("http://evil")')
    viewer = signed_in(app, "viewer")
    response = export(viewer, "/admin/audit/export/csv/")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    header, data = rows[0], rows[1:]
    created = next(row for row in data if row[header.index("Record type")] == "customer")
    changes = created[header.index("Changes")]
    assert "email: (empty) → ada@example.com" in changes
    assert created[header.index("Who")] == "system"
    label = created[header.index("Record")]
    assert not label.startswith("=") and "HYPERLINK" in label


def test_malformed_filter_values_are_ignored_not_a_server_error(app):
    CustomerFactory()
    manager = signed_in(app, "manager")
    for query in (
        "flt0_record_is=customer:abc",
        "flt0_record_is=customer:99999999999999999999",
        "flt0_record_id_equals=99999999999999999999",
        "flt0_record_id_equals=-1",
        "flt0_when_between=yesterday",
    ):
        assert manager.get("/admin/audit/?" + query).status_code == 200, query


def test_list_page_queries_do_not_grow_with_the_rows_shown(app):
    from sqlalchemy import event

    manager = signed_in(app, "manager")

    def queries_for_list() -> int:
        seen: list[str] = []

        def count(*_args):
            seen.append("q")

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert manager.get("/admin/audit/?page_size=100").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    CustomerFactory()
    few = queries_for_list()
    for i in range(40):
        CustomerFactory(first_name=f"C{i}", email=f"c{i}@example.com")
    assert len(events()) > 40
    assert queries_for_list() == few
