"""What the console's pages say: sentence-case labels, search hints, Yes/No, readable diffs."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from console.admin.registry import registered_views
from console.database import db
from console.models import Order
from console.services import concurrency, workflow
from tests.factories import CustomerFactory, OrderFactory, StaffFactory, catalogue
from tests.helpers import parse, text_of


def list_url(view) -> str:
    return url_for(f"{view.endpoint}.index_view")


def is_sentence_case(label: str) -> bool:
    """First word capitalised; the others lower-case unless an acronym (SKU, UTC, HTML)."""
    words = label.replace("*", "").replace("(", "").replace(")", "").split()
    return (
        bool(words)
        and words[0][0].isupper()
        and all(word == word.lower() or word.isupper() for word in words[1:])
    )


@pytest.fixture
def admin(app, auth):
    person = auth.login_as("admin")
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=person)
    workflow.approve(db.session, order, StaffFactory(email="boss@staff.test", role="manager"))
    return person


def test_every_label_is_in_sentence_case(app, client, admin):
    seen: dict[str, list[str]] = {}
    with app.test_request_context():
        views = [view for view in registered_views(app) if hasattr(view, "model")]
        urls = {view.endpoint: list_url(view) for view in views}
    for view in views:
        soup = parse(client.get(urls[view.endpoint]).get_data(as_text=True))
        labels = [text_of(th) for th in soup.select("table.model-list thead th")]
        first = soup.select_one("table.model-list td input[name=rowid]")
        if first is not None:
            details = f"{urls[view.endpoint]}details/?id={first['value']}"
            page = parse(client.get(details).get_data(as_text=True))
            labels += [text_of(b) for b in page.select("table td:first-child b")]
        if view.can_create:
            form = parse(client.get(f"{urls[view.endpoint]}new/").get_data(as_text=True))
            # Field labels (a choice's own label names a value: a role's permissions).
            labels += [text_of(label) for label in form.select("form label.col-form-label")]
        seen[view.endpoint] = [label for label in labels if label]
    wrong = {
        endpoint: [label for label in labels if not is_sentence_case(label)]
        for endpoint, labels in seen.items()
    }
    assert {endpoint: labels for endpoint, labels in wrong.items() if labels} == {}
    assert "Decided" in seen["order"] and "Taken by" in seen["order"]


def test_search_boxes_say_what_they_search(app, client, admin):
    with app.test_request_context():
        views = [v for v in registered_views(app) if getattr(v, "column_searchable_list", None)]
        urls = {view.endpoint: list_url(view) for view in views}
    hints = {}
    for view in views:
        box = parse(client.get(urls[view.endpoint]).get_data(as_text=True)).find(
            "input", attrs={"name": "search"}
        )
        hints[view.endpoint] = box["placeholder"]
    assert hints["customer"] == "Search by name, e-mail or phone"
    for endpoint, hint in hints.items():
        assert hint.startswith("Search by "), endpoint
        assert not re.search(r"[_.]|\b[A-Z][a-z]+ [A-Z]", hint), (endpoint, hint)


def test_booleans_read_yes_or_no(app, client, admin):
    StaffFactory(email="gone@staff.test", role="clerk", active=False)
    soup = parse(client.get("/admin/staff_user/").get_data(as_text=True))
    active = {
        text_of(row.select_one("td.col-email")): text_of(row.select_one("td.col-active"))
        for row in soup.select("table.model-list tr")
        if row.select_one("td.col-email")
    }
    assert active["gone@staff.test"] == "No" and active[admin.email] == "Yes"
    details = parse(client.get(f"/admin/staff_user/details/?id={admin.id}").get_data(as_text=True))
    values = {
        text_of(cells[0]): text_of(cells[1])
        for row in details.select("table tr")
        if len(cells := row.find_all("td")) >= 2
    }
    assert values["Active"] == "Yes"


RAW_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
INTERNAL_ID = re.compile(r"\(#\d+\)")


def test_audit_diffs_show_minutes_and_labels_without_internal_ids(app, client, admin):
    soup = parse(client.get("/admin/audit/").get_data(as_text=True))
    diffs = " | ".join(text_of(table) for table in soup.select("table.audit-diff"))
    assert "decided at" in diffs and "customer" in diffs
    assert not RAW_TIME.search(diffs), diffs
    assert not INTERNAL_ID.search(diffs), diffs
    assert re.search(r"decided at \(empty\) → \d{4}-\d{2}-\d{2} \d{2}:\d{2}\b", diffs), diffs
    assert "Ada Lovelace <ada@example.com>" in diffs


def test_stale_edit_message_shows_minutes_and_labels(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=clerk)
    eve = CustomerFactory(first_name="Eve", last_name="Mallory", email="eve@example.com")
    seen = order.version
    assert order.customer.email == "ada@example.com"  # loaded, as the edit form has it
    order.customer = eve
    db.session.commit()
    workflow.approve(db.session, order, StaffFactory(email="boss@staff.test", role="manager"))
    with pytest.raises(concurrency.StaleRecordError) as stale:
        concurrency.ensure_current(db.session, db.session.get(Order, order.id), seen)
    message = str(stale.value)
    assert "customer: Ada Lovelace <ada@example.com> → Eve Mallory <eve@example.com>" in message
    assert re.search(r"decided at: \(empty\) → \d{4}-\d{2}-\d{2} \d{2}:\d{2}\b", message), message
    assert not RAW_TIME.search(message) and not INTERNAL_ID.search(message), message
