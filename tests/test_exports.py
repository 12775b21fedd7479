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
from console.models import AuditEvent, Customer, Job, Order, Product, Role
from console.permissions import ROLE_PERMISSIONS
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, export, parse, submit, text_of
from tests.pricing_support import order_form, priced_shop, promotion


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

    response = export(client, "/admin/order/export/csv/?of=order_lines")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=order-lines-")
    lines = csv_rows(response.get_data())
    assert [(r["SKU"], r["Product"], r["Quantity"], r["Line total"]) for r in lines] == [
        ("KET-1", "Kettle", "2", "79.80"),
        ("'=LAMP", "'@Lamp", "1", "12.35"),  # formula-like cells neutralised
    ]

    response = export(client, "/admin/order/export/xlsx/?of=order_lines")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = xlsx_rows(response.get_data())
    assert [(r["SKU"], r["Quantity"], r["Line total"]) for r in sheet] == [
        ("KET-1", 2, 79.8),
        ("'=LAMP", 1, 12.35),
    ]
    assert isinstance(sheet[0]["Order created (UTC)"], dt.datetime)

    response = export(client, "/admin/order/export/jsonl/?of=order_lines")
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
    plain = export(client, "/admin/customer/export/csv/").get_data()
    excel = export(client, "/admin/customer/export/csv/?bom=1").get_data()
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert excel == b"\xef\xbb\xbf" + plain
    assert csv_rows(plain)[0]["E-mail"] == "ada@example.com"


def test_the_export_menu_keeps_the_lists_search_and_filters(client, auth, small_shop):
    """Each entry is a POST form with the CSRF token, its address carrying the list's
    search and filters."""
    auth.login_as("manager")
    page = parse(client.get("/admin/order/?search=ada%40example.com&flt0_0=pending").text)
    forms = page.select(".export-menu form")
    assert {form["method"] for form in forms} == {"post"}
    assert all(form.find("input", attrs={"name": "csrf_token"})["value"] for form in forms)
    assert page.select(".export-menu a.dropdown-item") == []  # no link starts an export
    links = [(text_of(form.button), form["action"]) for form in forms]
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


def test_an_export_starts_only_from_a_form_post_with_the_token(client, auth, small_shop):
    """A link, a bookmark or another site's form starts nothing: GET answers 405 with a
    page that says how to export, a POST without the token 400; no job, no event."""
    auth.login_as("viewer")
    for export_type in ("csv", "xlsx", "jsonl"):
        response = client.get(f"/admin/order/export/{export_type}/")
        assert response.status_code == 405
        assert response.headers["Allow"].split(", ").count("POST") == 1
        assert "Export menu" in text_of(parse(response.text).body)
    response = client.post("/admin/order/export/csv/")
    assert response.status_code == 400
    assert "security token" in response.text
    assert db.session.scalars(select(Job)).all() == []
    assert export_events() == []


def export_events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
        )
    )


def test_every_export_is_in_the_audit_trail(client, auth, small_shop):
    """Who, which list and export, search and filters, format, and the rows written."""
    viewer = auth.login_as("viewer")
    query = "?search=ada%40example.com&flt0_0=pending&of=order_lines&bom=1"
    response = export(client, f"/admin/order/export/csv/{query}")
    assert len(csv_rows(response.get_data())) == 2
    export(client, "/admin/customer/export/jsonl/")
    ordered, customers = export_events()
    assert (ordered.actor_id, ordered.actor_email) == (viewer.id, "viewer@staff.test")
    assert (ordered.record_type, ordered.record_id) == ("export", None)
    assert ordered.request_id and ordered.client_addr
    assert ordered.changes == {
        "list": [None, "order"],
        "export": [None, "order_lines"],
        "format": [None, "CSV for Excel"],
        "search": [None, "ada@example.com"],
        "filters": [None, "Status equals pending"],
        "rows": [None, 2],
    }
    assert ordered.note == (
        "Exported Order lines (CSV for Excel) from the Orders list (search "
        "'ada@example.com', filters: Status equals pending): 2 rows."
    )
    assert customers.changes["rows"] == [None, 1] and customers.changes["format"] == [
        None,
        "JSON Lines",
    ]
    assert "search" not in customers.changes and "filters" not in customers.changes
    # The audit trail's pages show them to those who read it.
    listed = parse(client.get("/admin/audit/?search=export").text)
    assert [text_of(cell) for cell in listed.select("td.col-action")] == ["Exported", "Exported"]
    details = client.get(f"/admin/audit/details/?id={ordered.id}").text
    assert ordered.note in text_of(parse(details).body)
    # Refused exports are not exports: nothing recorded.
    export(client, "/admin/order/export/pdf/")
    auth.logout()
    auth.login_as("clerk")
    assert export(client, "/admin/order/export/csv/").status_code == 403
    assert len(export_events()) == 2


def test_an_invalid_filter_value_is_said_once(client, auth, small_shop):
    auth.login_as("viewer")
    response = export(
        client, "/admin/audit/export/csv/?flt0_when_smaller_than=someday", follow_redirects=True
    )
    assert response.status_code == 200
    page = client.get("/admin/audit/").text
    assert alerts(page).count("Invalid Filter Value: someday") == 1


def test_bad_export_requests_get_a_message_and_change_nothing(client, auth, small_shop):
    auth.login_as("viewer")
    response = export(client, "/admin/order/export/pdf/?search=ada", follow_redirects=True)
    assert response.status_code == 200
    assert "Unknown export format 'pdf': choose CSV, XLSX or JSON Lines." in alerts(response.text)
    response = export(client, "/admin/order/export/csv/?of=customers", follow_redirects=True)
    assert "This list has no export called 'customers'." in alerts(response.text)
    assert db.session.scalars(select(Job)).all() == []


def test_a_clerk_may_not_export(client, auth, small_shop):
    auth.login_as("clerk")
    for export_type in ("csv", "xlsx", "jsonl", "pdf"):
        assert export(client, f"/admin/order/export/{export_type}/").status_code == 403


@pytest.mark.settings(EXPORT_INLINE_MAX_ROWS=2)
def test_above_the_inline_limit_the_export_becomes_a_job(client, auth, app):
    for n in range(3):
        CustomerFactory(first_name=f"C{n}", last_name="Doe", email=f"c{n}@example.com")
    CustomerFactory(first_name="Other", last_name="Roe", email="other@example.com")
    auth.login_as("viewer")
    # Two of them: at once.
    response = export(client, "/admin/customer/export/csv/?search=c1%40example.com")
    assert response.mimetype == "text/csv"
    # Three (the filter keeps out the fourth): a job, and the person is taken to it.
    response = export(client, "/admin/customer/export/jsonl/?flt0_0=Doe")
    assert response.status_code == 302
    job = db.session.scalars(select(Job)).one()
    assert response.headers["Location"] == f"/admin/jobs/{job.id}/"
    assert (job.kind, job.title, job.state) == ("export", "Customers export (JSON Lines)", "queued")
    # Both exports are in the audit trail: the rows of the one, the job of the other.
    inline, queued = export_events()
    assert inline.changes["rows"] == [None, 1]
    assert (queued.record_type, queued.record_id) == ("job", job.id)
    assert queued.changes["job"] == [None, job.id] and "rows" not in queued.changes
    assert queued.changes["filters"] == [None, "Last name contains Doe"]
    assert queued.note.endswith(f": in the background as job {job.id}.")
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
    export(client, "/admin/customer/export/csv/")
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
        response = export(client, f"/admin/order/export/{export_type}/")
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
    assert csv_rows(export(client, "/admin/product/export/csv/").get_data())[0]["SKU"] == "P-1"
    assert export(client, "/admin/audit/export/jsonl/").status_code == 200
    assert export(client, "/admin/notification/export/csv/").status_code == 403
    assert db.session.scalar(select(Product.sku)) == "P-1"


def test_the_orders_export_gives_the_tax_per_rate(client, auth, app):
    """One ``Tax by rate`` column: text in CSV and XLSX, a list in JSON Lines; lowest
    rate first, every rate the order was taxed at (0 % included), exact to the cent."""
    shop = priced_shop()
    promotion("TEN")
    auth.login_as("manager")
    lines = [(shop["kettle"], 2), (shop["tea"], 3), (shop["book"], 1)]
    data = order_form(shop["ada"], *lines, coupon_code="TEN", shipping=shop["courier"])
    assert submit(client, "/admin/order/new/", data).status_code == 302
    plain = OrderFactory(customer=shop["bob"], lines={shop["tea"]: 1})
    untaxed = OrderFactory(customer=shop["bob"], lines={shop["book"]: 1})
    # Kettle 2 × 39.90 = 79.80, tea 3 × 4.35 = 13.05, book 12.00: 104.85, 10 % off
    # line by line (71.82, 11.74, 10.80); the courier's 12.00 is taxed at 0 %
    # (SHOP_SHIPPING_TAX_RATE), so it joins the book's base at that rate.
    expected = [
        {"name": "Zero", "rate": "0.00", "base": "22.80", "tax": "0.00"},
        {"name": "Reduced", "rate": "5.50", "base": "11.74", "tax": "0.65"},
        {"name": "Standard", "rate": "20.00", "base": "71.82", "tax": "14.36"},
    ]
    text = "Zero 0.00%: 0.00; Reduced 5.50%: 0.65; Standard 20.00%: 14.36"

    rows = csv_rows(export(client, "/admin/order/export/csv/").get_data())
    assert [(r["Tax"], r["Tax by rate"]) for r in rows] == [
        ("15.01", text),
        ("0.24", "Reduced 5.50%: 0.24"),
        ("0.00", "Zero 0.00%: 0.00"),
    ]
    sheet = xlsx_rows(export(client, "/admin/order/export/xlsx/").get_data())
    assert [r["Tax by rate"] for r in sheet] == [text, "Reduced 5.50%: 0.24", "Zero 0.00%: 0.00"]
    objects = [
        json.loads(line)
        for line in export(client, "/admin/order/export/jsonl/").get_data(as_text=True).splitlines()
    ]
    assert objects[0]["tax_breakdown"] == expected
    assert objects[0]["tax_total"] == "15.01"
    assert objects[1]["tax_breakdown"] == [
        {"name": "Reduced", "rate": "5.50", "base": "4.35", "tax": "0.24"}
    ]
    assert [o["number"] for o in objects] == [
        db.session.scalar(select(Order.number).order_by(Order.id)),
        plain.number,
        untaxed.number,
    ]
    # The figures are the order's own tax lines, as its page and e-mails show them.
    db.session.expire_all()
    first = db.session.scalar(select(Order).order_by(Order.id))
    stored = [(t.name, f"{t.rate:.2f}", f"{t.base:.2f}", f"{t.tax:.2f}") for t in first.tax_lines]
    assert stored == [(e["name"], e["rate"], e["base"], e["tax"]) for e in expected]


def test_a_german_readers_export_keeps_machine_values(client, auth, app):
    """Pages follow the reader's locale (1.234,56 €); exports keep dot decimals and the
    times as stored, whatever the reader's language."""
    viewer = auth.login_as("viewer")
    viewer.language = "de"
    db.session.commit()
    lamp = ProductFactory(sku="LAMP-1", name="Lamp", unit_price=Decimal("1234.56"), stock=9)
    order = OrderFactory(customer=CustomerFactory(), lines={lamp: 2})
    page = client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True)
    assert "2.469,12\xa0€" in page

    lines = csv_rows(export(client, "/admin/order/export/csv/?of=order_lines").get_data())
    assert [(r["Quantity"], r["Line total"]) for r in lines] == [("2", "2469.12")]
    assert "€" not in str(lines)
    sheet = xlsx_rows(export(client, "/admin/order/export/xlsx/?of=order_lines").get_data())
    assert sheet[0]["Line total"] == 2469.12
    response = export(client, "/admin/order/export/jsonl/?of=order_lines")
    objects = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert objects[0]["line_total"] == "2469.12"
    assert objects[0]["order_created_at"] == order.created_at.isoformat()
