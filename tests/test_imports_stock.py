"""Imports of stock counts: each count a "counted" movement of the stock ledger.

Through the stock movements list's Import pages, as a manager uses them, on SQLite and
PostgreSQL (the ``app`` fixture): the preview names every bad cell and shows each
count's shelf and available figures before and after, and writes nothing; confirming
writes one movement per changed count through the stock service, audited under the
import's number; the ledger still verifies afterwards.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.jobs.runner import run_next
from console.models import AuditEvent, Customer, ImportBatch, Job, StockMovement
from console.services import stock, workflow
from console.services.errors import DomainError
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import alerts, csrf_token_from, parse, snapshot
from tests.test_imports import (
    batch_page,
    confirm,
    counts,
    csv_bytes,
    current_mapping,
    errors,
    preview,
    updates,
    upload,
    uploaded,
    xlsx_bytes,
)

HEADER = ["SKU", "Counted", "Note"]


@pytest.fixture
def shelf(app):
    """A (10 on the shelf: 6 available, 4 on an approved order), B (5), C (3)."""
    clerk = StaffFactory(email="clerk-orders@staff.test", role="clerk")
    approver = StaffFactory(email="approver@staff.test", role="manager")
    customer, products = catalogue({"A": 10, "B": 5, "C": 3})
    order = OrderFactory(customer=customer, lines={products["A"]: 4}, actor=clerk)
    workflow.approve(db.session, order, approver)
    return products


def stocks() -> dict[str, int]:
    db.session.expire_all()
    return {p.sku: p.stock for p in db.session.scalars(stock.select(stock.Product))}


def counted_movements() -> list[tuple[str, int, int, str]]:
    db.session.expire_all()
    return [
        (m.product.sku, m.quantity, m.balance_after, m.note)
        for m in db.session.scalars(
            select(StockMovement)
            .where(StockMovement.reason == "counted")
            .order_by(StockMovement.id)
        )
    ]


def verified(runner) -> bool:
    result = runner.invoke(args=["stock", "verify"])
    return result.exit_code == 0


def test_preview_names_every_bad_cell_and_shows_the_shelf_before_and_after(client, auth, shelf):
    auth.login_as("manager")
    data = csv_bytes(
        HEADER,
        ["a", "12", "Aisle 3"],  # 10 on the shelf -> 12 (available 6 -> 8)
        ["B", "5", ""],  # as the ledger expects: unchanged
        ["C", "2.5", ""],  # not a whole number
        ["NOPE", "1", ""],  # no such product
        ["B ", "4", ""],  # B twice
        ["C", "-1", ""],
    )
    before = snapshot()
    batch_id = uploaded(client, "stock", data, "count.csv")
    page = preview(client, "stock", batch_id).get_data(as_text=True)

    assert counts(page) == {"create": 0, "update": 1, "unchanged": 0, "error": 5}
    twice = "The same SKU is on rows {} as well: each record may appear once in a file."
    assert errors(page) == [
        ("3", "B", "SKU", twice.format(6)),
        ("4", "C", "SKU", twice.format(7)),
        ("4", "C", "Counted", "Give the counted quantity as a whole number (not '2.5')."),
        ("5", "NOPE", "SKU", "There is no product with the SKU 'NOPE': a count changes the "
         "stock of existing products only."),
        ("6", "B", "SKU", twice.format(3)),
        ("7", "C", "SKU", twice.format(4)),
        ("7", "C", "Counted", "A counted quantity cannot be below zero."),
    ]  # fmt: skip
    assert updates(page) == [
        ("2", "a", "On the shelf", "10", "12"),
        ("2", "a", "Available", "6", "8"),
    ]
    after = snapshot()
    for table in ("product", "stock_movement", "audit_event"):
        assert after[table] == before[table], table


def test_valid_rows_only_writes_counted_movements_audited_under_the_import(
    client, auth, shelf, runner
):
    manager = auth.login_as("manager")
    data = xlsx_bytes(
        HEADER,
        ["A", 12, "Aisle 3"],  # +2: shelf 12, available 8
        ["B", 5, None],  # unchanged
        ["C", 0, None],  # -3
        ["C-MISSING", 1, None],  # in error, left out
        ["B-FORMULA", "=1+1", None],
    )
    batch_id = uploaded(client, "stock", data, "count.xlsx")
    preview(client, "stock", batch_id)
    refused = confirm(client, "stock", batch_id, "all").get_data(as_text=True)
    assert "2 rows have errors, so nothing was imported" in alerts(refused)
    assert stocks() == {"A": 6, "B": 5, "C": 3}

    # A failed import keeps its file: previewed again and confirmed for its valid rows.
    preview(client, "stock", batch_id)
    page = confirm(client, "stock", batch_id, "valid_only").get_data(as_text=True)
    assert "applied: 0 created, 2 updated, 1 unchanged, 2 rows in error left out" in alerts(page)
    assert stocks() == {"A": 8, "B": 5, "C": 0}
    note = f"Import #{batch_id} (count.xlsx)"
    assert counted_movements() == [("A", 2, 8, f"{note}; Aisle 3"), ("C", -3, 0, note)]
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.note == note).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.record_label, e.changes, e.actor_id) for e in events] == [
        ("adjust_stock", "A — " + shelf["A"].name, {"stock": [6, 8]}, manager.id),
        ("adjust_stock", "C — " + shelf["C"].name, {"stock": [3, 0]}, manager.id),
    ]
    assert verified(runner)


def test_a_count_below_what_orders_hold_by_the_confirmation_refuses_it(client, auth, shelf, runner):
    """The figures are read again under a lock when the counts are written."""
    auth.login_as("manager")
    batch_id = uploaded(client, "stock", csv_bytes(HEADER, ["B", "2", ""], ["C", "1", ""]))
    page = preview(client, "stock", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 0, "update": 2, "unchanged": 0, "error": 0}
    # Meanwhile an order for 3 of B is approved: 2 counted is below what it holds.
    clerk = StaffFactory(email="clerk-late@staff.test", role="clerk")
    approver = StaffFactory(email="approver-late@staff.test", role="manager")
    customer = db.session.scalar(select(Customer))
    late = OrderFactory(customer=customer, lines={shelf["B"]: 3}, actor=clerk)
    workflow.approve(db.session, late, approver)
    before = snapshot()

    page = confirm(client, "stock", batch_id, "all").get_data(as_text=True)
    assert "1 row has errors, so nothing was imported" in alerts(page)
    after = snapshot()
    for table in ("product", "stock_movement", "audit_event"):
        assert after[table] == before[table], table
    assert db.session.get(ImportBatch, batch_id, populate_existing=True).state == "failed"
    page = preview(client, "stock", batch_id).get_data(as_text=True)
    assert ("2", "B", "Counted", "2 counted, but approved orders not shipped yet hold 3; count "
            "again, or cancel or ship those orders first.") in errors(page)  # fmt: skip
    assert verified(runner)


def test_the_service_reads_the_figures_again_when_it_writes(app, shelf, runner):
    """Between an import's last check and its write, the stock service decides."""
    manager = StaffFactory(email="counter@staff.test", role="manager")
    outcome = stock.record_counts(
        db.session,
        manager,
        [
            stock.Count(shelf["A"].id, 3),
            stock.Count(shelf["B"].id, 5),
            stock.Count(shelf["C"].id, 1),
        ],
        "Import #9 (count.csv)",
    )
    db.session.commit()
    assert outcome.refused == {
        shelf["A"].id: "A: 3 counted, but approved orders not shipped yet hold 4; count again, "
        "or cancel or ship those orders first."
    }
    assert (outcome.unchanged, outcome.changed) == ([shelf["B"].id], {shelf["C"].id: (3, 1)})
    assert stocks() == {"A": 6, "B": 5, "C": 1}
    assert counted_movements() == [("C", -2, 1, "Import #9 (count.csv)")]
    assert verified(runner)


def test_stock_counts_need_stock_adjust(client, auth, shelf):
    auth.login_as("clerk")  # reads products, does not adjust stock
    assert client.get("/admin/stock/movements/import/").status_code == 403
    assert client.get("/admin/stock/movements/import/template.csv").status_code == 403
    listing = client.get("/admin/stock/movements/").get_data(as_text=True)
    assert parse(listing).select_one("a.import-link") is None
    clerk = db.session.scalar(select(stock.User).where(stock.User.email == "clerk@staff.test"))
    with pytest.raises(DomainError, match="needs the permission stock.adjust"):
        stock.record_counts(db.session, clerk, [stock.Count(shelf["A"].id, 1)], "Import #1")
    assert stocks() == {"A": 6, "B": 5, "C": 3}

    auth.logout()
    auth.login_as("manager")
    listing = client.get("/admin/stock/movements/").get_data(as_text=True)
    assert parse(listing).select_one("a.import-link")
    template = client.get("/admin/stock/movements/import/template.csv")
    assert template.get_data(as_text=True).strip() == "SKU,Counted,Note"


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_a_large_count_runs_as_jobs(app, client, auth, shelf, runner):
    auth.login_as("manager")
    batch_id = uploaded(client, "stock", csv_bytes(HEADER, ["A", "9", ""], ["B", "7", ""]))
    page = batch_page(client, "stock", batch_id).get_data(as_text=True)
    response = client.post(
        f"/admin/stock/movements/import/{batch_id}/preview/",
        data={**current_mapping(page), "csrf_token": csrf_token_from(page)},
    )
    assert "/admin/jobs/" in response.headers["Location"]
    job_id = run_next(app)
    assert db.session.get(Job, job_id, populate_existing=True).state == "done"
    assert stocks() == {"A": 6, "B": 5, "C": 3}
    response = confirm(client, "stock", batch_id, follow=False)
    job_url = urlsplit(response.headers["Location"]).path
    assert job_url.startswith("/admin/jobs/")
    assert run_next(app) is not None
    assert db.session.get(ImportBatch, batch_id, populate_existing=True).state == "applied"
    assert stocks() == {"A": 5, "B": 7, "C": 3}
    assert [(sku, q) for sku, q, _b, _n in counted_movements()] == [("A", -1), ("B", 2)]
    assert verified(runner)


def test_an_upload_of_nothing_to_count_is_refused(client, auth, shelf):
    auth.login_as("manager")
    response = upload(client, "stock", b"SKU,Counted\n")
    assert "header row but no data rows" in alerts(response.get_data(as_text=True))
