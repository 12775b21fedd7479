"""List exports: CSV (with and without BOM), XLSX and JSON Lines, inline or as a job.

Files are read back the way their users read them: the csv module, openpyxl, json.
The big test exports 100,000 orders (bulk-inserted) through a job and checks every
row's figures exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from sqlalchemy import insert, select

from console.database import db
from console.jobs.runner import run_next
from console.models import Customer, Job, Order, Product, Role
from console.permissions import ROLE_PERMISSIONS
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, parse, text_of


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def xlsx_rows(data: bytes) -> list[dict[str, object]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows: list[dict[str, object]] = []
    for sheet in workbook.worksheets:
        values = sheet.iter_rows(values_only=True)
        header = next(values)
        rows += [dict(zip(header, row, strict=True)) for row in values]
    workbook.close()
    return rows


@pytest.fixture
def small_shop(app):
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    kettle = ProductFactory(sku="KET-1", name="Kettle", unit_price=Decimal("39.90"), stock=9)
    lamp = ProductFactory(sku="=LAMP", name="@Lamp", unit_price=Decimal("12.35"), stock=9)
    return OrderFactory(customer=customer, lines={kettle: 2, lamp: 1})


def test_the_three_formats_carry_the_same_rows(client, auth, small_shop):
    auth.login_as("viewer")
    order = small_shop

    response = client.get("/admin/order/export/csv/?of=order_lines")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=order-lines-")
    lines = csv_rows(response.get_data())
    assert [(r["SKU"], r["Product"], r["Quantity"], r["Line total"]) for r in lines] == [
        ("KET-1", "Kettle", "2", "79.80"),
        ("'=LAMP", "'@Lamp", "1", "12.35"),  # formula-like cells neutralised
    ]

    response = client.get("/admin/order/export/xlsx/?of=order_lines")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = xlsx_rows(response.get_data())
    assert [(r["SKU"], r["Quantity"], r["Line total"]) for r in sheet] == [
        ("KET-1", 2, 79.8),
        ("'=LAMP", 1, 12.35),
    ]
    assert isinstance(sheet[0]["Order created (UTC)"], dt.datetime)

    response = client.get("/admin/order/export/jsonl/?of=order_lines")
    assert response.mimetype == "application/x-ndjson"
    objects = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [(o["sku"], o["quantity"], o["unit_price"], o["line_total"]) for o in objects] == [
        ("KET-1", 2, "39.90", "79.80"),
        ("=LAMP", 1, "12.35", "12.35"),  # JSON Lines keeps values as they are
    ]
    assert objects[0]["order_number"] == order.number
    assert objects[0]["order_created_at"] == order.created_at.isoformat()


def test_csv_for_excel_starts_with_a_byte_order_mark(client, auth, small_shop):
    auth.login_as("viewer")
    plain = client.get("/admin/customer/export/csv/").get_data()
    excel = client.get("/admin/customer/export/csv/?bom=1").get_data()
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert excel == b"\xef\xbb\xbf" + plain
    assert csv_rows(plain)[0]["E-mail"] == "ada@example.com"


def test_the_export_menu_keeps_the_lists_search_and_filters(client, auth, small_shop):
    auth.login_as("manager")
    page = parse(client.get("/admin/order/?search=ada%40example.com&flt0_0=pending").text)
    links = [(text_of(a), a["href"]) for a in page.select(".export-menu a.dropdown-item")]
    assert [label for label, _ in links] == 2 * [
        "CSV",
        "CSV for Excel (UTF-8 with BOM)",
        "Excel (XLSX)",
        "JSON Lines",
    ]
    queries = [parse_qs(urlsplit(href).query) for _, href in links]
    assert [urlsplit(href).path for _, href in links] == 2 * [
        "/admin/order/export/csv/",
        "/admin/order/export/csv/",
        "/admin/order/export/xlsx/",
        "/admin/order/export/jsonl/",
    ]
    for query in queries:
        assert query["search"] == ["ada@example.com"] and query["flt0_0"] == ["pending"]
    assert [query.get("of") for query in queries] == 4 * [None] + 4 * [["order_lines"]]
    assert [query.get("bom") for query in queries[:4]] == [None, ["1"], None, None]


def test_bad_export_requests_get_a_message_and_change_nothing(client, auth, small_shop):
    auth.login_as("viewer")
    response = client.get("/admin/order/export/pdf/?search=ada", follow_redirects=True)
    assert response.status_code == 200
    assert "Unknown export format 'pdf': choose CSV, XLSX or JSON Lines." in alerts(response.text)
    response = client.get("/admin/order/export/csv/?of=customers", follow_redirects=True)
    assert "This list has no export called 'customers'." in alerts(response.text)
    assert db.session.scalars(select(Job)).all() == []


def test_a_clerk_may_not_export(client, auth, small_shop):
    auth.login_as("clerk")
    for export_type in ("csv", "xlsx", "jsonl", "pdf"):
        assert client.get(f"/admin/order/export/{export_type}/").status_code == 403


@pytest.mark.settings(EXPORT_INLINE_MAX_ROWS=2)
def test_above_the_inline_limit_the_export_becomes_a_job(client, auth, app):
    for n in range(3):
        CustomerFactory(first_name=f"C{n}", last_name="Doe", email=f"c{n}@example.com")
    CustomerFactory(first_name="Other", last_name="Roe", email="other@example.com")
    auth.login_as("viewer")
    # Two of them: at once.
    response = client.get("/admin/customer/export/csv/?search=c1%40example.com")
    assert response.mimetype == "text/csv"
    # Three (the filter keeps out the fourth): a job, and the person is taken to it.
    response = client.get("/admin/customer/export/jsonl/?flt0_0=Doe")
    assert response.status_code == 302
    job = db.session.scalars(select(Job)).one()
    assert response.headers["Location"] == f"/admin/jobs/{job.id}/"
    assert (job.kind, job.title, job.state) == ("export", "Customers export (JSON Lines)", "queued")
    page = client.get(response.headers["Location"])
    assert "runs in the background" in alerts(page.text)

    assert run_next(app) == job.id
    db.session.refresh(job)
    assert (job.state, job.progress_done, job.progress_total) == ("done", 3, 3)
    download = client.get(f"/admin/jobs/{job.id}/download/")
    assert download.mimetype == "application/x-ndjson"
    emails = [json.loads(line)["email"] for line in download.text.splitlines()]
    assert emails == ["c0@example.com", "c1@example.com", "c2@example.com"]


@pytest.mark.settings(EXPORT_INLINE_MAX_ROWS=1)
def test_an_export_job_refuses_an_owner_who_lost_the_permission(client, auth, app):
    for n in range(2):
        CustomerFactory(email=f"c{n}@example.com")
    auth.login_as("viewer")
    client.get("/admin/customer/export/csv/")
    job = db.session.scalars(select(Job)).one()
    role = db.session.scalar(select(Role).filter_by(name="viewer"))
    role.permissions = sorted(ROLE_PERMISSIONS["viewer"] - {"export"})
    db.session.commit()
    run_next(app)
    db.session.refresh(job)
    assert (job.state, job.error) == (
        "failed",
        "Your role does not allow exporting this list (it needs export).",
    )


ORDERS = 100_000
CUSTOMERS = 500
START = dt.datetime(2025, 1, 1)
STATUSES = ["pending", "approved", "shipped", "delivered", "rejected", "cancelled"]


def expected_order(i: int) -> tuple[str, str, str, str, Decimal, dt.datetime]:
    """Number, status, customer name and e-mail, total and creation time of order ``i``."""
    c = i % CUSTOMERS
    return (
        f"EXP-{i:06d}",
        STATUSES[i % len(STATUSES)],
        f"First{c} Last{c}",
        f"c{c:04d}@example.com",
        Decimal(i * 37 % 1_000_000) / 100,
        START + dt.timedelta(seconds=i),
    )


def seed_orders(count: int = ORDERS) -> None:
    """``count`` orders of ``CUSTOMERS`` customers, with multi-row INSERTs (seconds)."""
    db.session.execute(
        insert(Customer),
        [
            {
                "id": c + 1,
                "first_name": f"First{c}",
                "last_name": f"Last{c}",
                "email": f"c{c:04d}@example.com",
                "search_text": "",
                "created_at": START,
                "updated_at": START,
                "version": 1,
            }
            for c in range(CUSTOMERS)
        ],
    )
    for start in range(1, count + 1, 20_000):
        rows = []
        for i in range(start, min(start + 20_000, count + 1)):
            number, status, _name, _email, total, created = expected_order(i)
            rows.append(
                {
                    "id": i,
                    "number": number,
                    "customer_id": i % CUSTOMERS + 1,
                    "status": status,
                    "total": total,
                    "created_at": created,
                    "updated_at": created,
                    "version": 1,
                }
            )
        db.session.execute(insert(Order), rows)
    db.session.commit()


@pytest.mark.settings(EXPORT_INLINE_MAX_ROWS=1000, EXPORT_BATCH_SIZE=5000)
def test_100000_orders_through_a_job_read_back_exactly(client, auth, app):
    seed_orders()
    auth.login_as("manager")
    files = {}
    for export_type in ("csv", "xlsx"):
        response = client.get(f"/admin/order/export/{export_type}/")
        assert response.status_code == 302, export_type
        job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        assert run_next(app) == job_id
        job = db.session.get(Job, job_id, populate_existing=True)
        assert (job.state, job.progress_done, job.progress_total) == ("done", ORDERS, ORDERS)
        files[export_type] = client.get(f"/admin/jobs/{job_id}/download/").get_data()

    table = csv_rows(files["csv"])
    assert len(table) == ORDERS
    for i, row in enumerate(table, start=1):
        number, status, name, email, total, created = expected_order(i)
        assert (
            row["Order"],
            row["Status"],
            row["Customer name"],
            row["Customer e-mail"],
            row["Total"],
            row["Created (UTC)"],
        ) == (number, status, name, email, f"{total:.2f}", f"{created:%Y-%m-%d %H:%M:%S}")

    sheet = xlsx_rows(files["xlsx"])
    assert len(sheet) == ORDERS
    for i, row in enumerate(sheet, start=1):
        number, status, name, email, total, created = expected_order(i)
        assert (row["Order"], row["Status"], row["Customer name"], row["Customer e-mail"]) == (
            number,
            status,
            name,
            email,
        )
        assert Decimal(str(row["Total"])).quantize(Decimal("0.01")) == total
        assert row["Created (UTC)"] == created
    db.session.remove()


def test_the_lists_export_only_what_their_person_may_read(app, client, auth):
    """The exports ask the list's own permission: products for a viewer, audit not for a clerk."""
    ProductFactory(sku="P-1")
    StaffFactory(email="someone@staff.test", role="clerk")
    auth.login_as("viewer")
    assert csv_rows(client.get("/admin/product/export/csv/").get_data())[0]["SKU"] == "P-1"
    assert client.get("/admin/audit/export/jsonl/").status_code == 200
    assert client.get("/admin/notification/export/csv/").status_code == 403
    assert db.session.scalar(select(Product.sku)) == "P-1"
