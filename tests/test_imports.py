"""Imports of customers and products: upload, mapping, preview, confirm, and bad files.

Every step goes through the console's pages as a person uses them (the CSRF token
taken from the page, the file posted as a browser posts it). Each bad file is refused
with its message and leaves every table as it was, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from urllib.parse import urlsplit

import openpyxl
import pytest
from sqlalchemy import func, select

from console.database import db
from console.jobs.imports import REPORT_LIMIT
from console.jobs.runner import run_next
from console.models import (
    AuditEvent,
    Customer,
    ImportBatch,
    ImportCheckedRow,
    Job,
    Product,
    TaxRate,
)
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, csrf_token_from, export, parse, submit, text_of

VIEWS = {"customers": "customer", "products": "product", "stock": "stock/movements"}


# --- how a person goes through the steps ---------------------------------------------------


def upload(client, kind: str, data: bytes, name: str = "file.csv"):
    """Post ``data`` as the import file of ``kind``; the response (not followed)."""
    url = f"/admin/{VIEWS[kind]}/import/"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def uploaded(client, kind: str, data: bytes, name: str = "file.csv") -> int:
    """Upload ``data`` and return the new import's id."""
    response = upload(client, kind, data, name)
    assert response.status_code == 302, alerts(response.get_data(as_text=True))
    return int(urlsplit(response.headers["Location"]).path.rstrip("/").split("/")[-1])


def batch_page(client, kind: str, batch_id: int):
    return client.get(f"/admin/{VIEWS[kind]}/import/{batch_id}/")


def current_mapping(html: str) -> dict[str, str]:
    """The mapping form's selects as the page shows them (the auto-matched columns)."""
    form = parse(html).select_one("form.import-mapping")
    chosen = {}
    for select_ in form.find_all("select"):
        option = select_.find("option", selected=True)
        chosen[select_["name"]] = option["value"] if option else ""
    return chosen


def preview(client, kind: str, batch_id: int, **changes: str):
    """Press Preview with the page's mapping (changed by ``changes``); the page after."""
    page = batch_page(client, kind, batch_id).get_data(as_text=True)
    form = {**current_mapping(page), **changes, "csrf_token": csrf_token_from(page)}
    return client.post(
        f"/admin/{VIEWS[kind]}/import/{batch_id}/preview/", data=form, follow_redirects=True
    )


def confirm(client, kind: str, batch_id: int, mode: str = "all", follow: bool = True):
    page = batch_page(client, kind, batch_id).get_data(as_text=True)
    return client.post(
        f"/admin/{VIEWS[kind]}/import/{batch_id}/confirm/",
        data={"mode": mode, "csrf_token": csrf_token_from(page)},
        follow_redirects=follow,
    )


def job_of(response) -> int:
    """The id of the job a step was handed to (the answer redirects to its page)."""
    return int(urlsplit(response.headers["Location"]).path.rstrip("/").split("/")[-1])


def counts(html: str) -> dict[str, int]:
    cells = parse(html).select("table.import-counts td[data-count]")
    return {cell["data-count"]: int(text_of(cell).replace(",", "")) for cell in cells}


def errors(html: str) -> list[tuple[str, str, str, str]]:
    rows = parse(html).select("table.import-errors tbody tr")
    return [tuple(text_of(td) for td in row.find_all("td")) for row in rows]  # type: ignore[misc]


def updates(html: str) -> list[tuple[str, ...]]:
    rows = parse(html).select("table.import-updates tbody tr")
    return [tuple(text_of(td) for td in row.find_all("td")) for row in rows]


def csv_bytes(*rows: list[str], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(*rows: list[object]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def snapshot() -> dict[str, list[tuple]]:
    """Every row of the tables an import could change."""
    db.session.expire_all()
    tables = ("customer", "product", "import_batch", "audit_event", "job")
    with db.engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in db.metadata.sorted_tables
            if table.name in tables
        }


def product(sku: str) -> Product | None:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.sku == sku))


@pytest.fixture
def catalogue(app):
    kettle = ProductFactory(sku="KET-1", name="Kettle", unit_price=Decimal("39.90"), stock=9)
    lamp = ProductFactory(sku="LAMP-2", name="Lamp", unit_price=Decimal("12.35"), stock=4)
    return kettle, lamp


PRODUCT_HEADER = ["SKU", "Name", "Unit price", "Stock on hand", "Active"]


# --- products --------------------------------------------------------------------------------


def test_product_preview_counts_and_names_every_bad_cell(client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(
        PRODUCT_HEADER,
        ["ket-1", "Kettle", "42.00", "9", "yes"],  # update (SKU case ignored)
        ["LAMP-2", "Lamp", "12.35", "4", "Yes"],  # unchanged
        ["NEW-3", "Toaster", "25.00", "0", "no"],  # create
        ["BAD-4", "Spoon", "-1", "3", "yes"],  # price below zero
        ["BAD-5", "", "2.00", "many", "perhaps"],  # three bad cells
    )
    before = snapshot()
    batch_id = uploaded(client, "products", data, "catalogue.csv")
    page = preview(client, "products", batch_id).get_data(as_text=True)

    assert counts(page) == {"create": 1, "update": 1, "unchanged": 1, "error": 2}
    assert errors(page) == [
        ("5", "BAD-4", "Unit price", "The price must be 0 or more."),
        ("6", "BAD-5", "Active", "Enter yes or no (not 'perhaps')."),
        ("6", "BAD-5", "Name", "This field is required (spaces alone do not count)."),
        ("6", "BAD-5", "Initial stock", "Not a valid integer value."),
        ("6", "BAD-5", "Initial stock", "Stock must be 0 or more."),  # as the form says it
    ]
    assert updates(page) == [
        ("2", "ket-1", "SKU", "KET-1", "ket-1"),
        ("2", "ket-1", "Unit price", "39.90", "42.00"),
    ]
    after = snapshot()
    assert after["product"] == before["product"] and after["audit_event"] == before["audit_event"]


def test_all_or_nothing_refuses_while_a_row_is_in_error(client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(
        PRODUCT_HEADER, ["NEW-1", "Cup", "3.00", "1", "yes"], ["BAD", "", "1", "1", ""]
    )
    batch_id = uploaded(client, "products", data)
    preview(client, "products", batch_id)
    before = snapshot()
    page = confirm(client, "products", batch_id, "all").get_data(as_text=True)
    assert "1 row has errors, so nothing was imported" in alerts(page)
    after = snapshot()
    assert after["product"] == before["product"]
    assert after["audit_event"] == before["audit_event"]
    assert product("NEW-1") is None
    assert db.session.get(ImportBatch, batch_id).state == "failed"


def test_valid_rows_only_applies_the_rest_as_audited_edits(client, auth, catalogue):
    manager = auth.login_as("manager")
    kettle, _lamp = catalogue
    version = kettle.version
    data = csv_bytes(
        PRODUCT_HEADER,
        ["KET-1", "Kettle", "42.00", "9", "yes"],
        ["NEW-3", "Toaster", "25.00", "0", "no"],
        ["BAD-4", "Spoon", "-1", "3", "yes"],
    )
    batch_id = uploaded(client, "products", data)
    preview(client, "products", batch_id)
    page = confirm(client, "products", batch_id, "valid_only").get_data(as_text=True)
    assert "1 created, 1 updated, 0 unchanged, 1 rows in error left out" in alerts(page)
    assert counts(page) == {"create": 1, "update": 1, "unchanged": 0, "error": 1}

    updated = product("KET-1")
    assert updated.unit_price == Decimal("42.00") and updated.version == version + 1
    created = product("NEW-3")
    assert created.active is False and created.tax_rate is not None
    assert product("BAD-4") is None

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.note == f"Import #{batch_id} (file.csv)")
    ).all()
    assert {(e.action, e.record_label, e.actor_email) for e in events} == {
        ("update", str(updated), manager.email),
        ("create", str(created), manager.email),
    }
    (update,) = [e for e in events if e.action == "update"]
    assert update.changes == {"unit_price": ["39.90", "42.00"]}
    assert update.record_version == version + 1

    # Confirming again (a second submit) is refused and changes nothing.
    before = snapshot()
    again = confirm(client, "products", batch_id, "valid_only").get_data(as_text=True)
    assert f"Import #{batch_id} was confirmed already" in alerts(again)
    assert snapshot() == before


def test_xlsx_products_with_tax_rates_and_neutralised_text(client, auth, catalogue):
    auth.login_as("manager")
    reduced = TaxRate(name="Reduced", rate=Decimal("5.50"))
    db.session.add(reduced)
    db.session.commit()
    data = xlsx_bytes(
        ["SKU", "Name", "Unit price", "Tax rate", "Stock on hand", "Active"],
        ["BOOK-1", "'=Cookbook", 19.9, "reduced", 3.0, False],
        ["BOOK-2", '=HYPERLINK("http://evil.example")', 5, "Reduced", 1, True],
        ["BOOK-3", "Atlas", 30, "Luxury", 1, True],
    )
    batch_id = uploaded(client, "products", data, "books.xlsx")
    page = preview(client, "products", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 1, "update": 0, "unchanged": 0, "error": 2}
    (formula, rate) = errors(page)
    assert formula[:3] == ("3", "BOOK-2", "Name") and formula[3].startswith(
        "Formulas are not imported"
    )
    assert rate[:3] == ("4", "BOOK-3", "Tax rate")
    assert rate[3].startswith("Not an active tax rate: 'Luxury'")
    confirm(client, "products", batch_id, "valid_only")
    book = product("BOOK-1")
    assert (book.name, book.unit_price, book.stock, book.active) == (
        "=Cookbook",
        Decimal("19.90"),
        3,
        False,
    )
    assert book.tax_rate.name == "Reduced"


def test_an_exported_list_imports_back_unchanged(client, auth, catalogue):
    auth.login_as("manager")
    ProductFactory(sku="=SUM-1", name="-Minus", unit_price=Decimal("1.00"), stock=0)
    exported = export(client, "/admin/product/export/csv/?bom=1").get_data()
    batch_id = uploaded(client, "products", exported, "products.csv")
    page = preview(client, "products", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 0, "update": 0, "unchanged": 3, "error": 0}


def test_the_mapping_can_be_changed_with_the_selects(client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(["Code", "Title", "Cost", "Price"], ["NEW-9", "Mug", "1.00", "4.00"])
    batch_id = uploaded(client, "products", data)
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    assert current_mapping(page) == {
        "sku": "0",  # "Code" is a name of the SKU
        "name": "",
        "description": "",
        "unit_price": "3",  # "Price" is a name of the unit price
        "tax_rate": "",
        "stock": "",
        "active": "",
    }
    assert "Required columns are missing: Name." in text_of(
        parse(page).select_one(".import-missing")
    )
    page = preview(client, "products", batch_id, name="1").get_data(as_text=True)
    assert counts(page)["create"] == 1
    confirm(client, "products", batch_id)
    assert product("NEW-9").unit_price == Decimal("4.00")


# --- customers -------------------------------------------------------------------------------


def test_customers_are_matched_by_email_ignoring_case(client, auth):
    clerk = auth.login_as("clerk")
    ada = CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    CustomerFactory(first_name="Alan", last_name="Turing", email="alan@example.com")
    data = csv_bytes(
        ["E-mail", "First name", "Last name", "Phone"],
        ["  ADA@Example.com ", "Ada", "King", ""],  # update
        ["alan@example.com", "Alan", "Turing", ""],  # unchanged
        ["grace@example.com", "Grace", "Hopper", "+1 555"],  # create
        ["not-an-address", "No", "Body", ""],  # error
        delimiter=";",
    )
    batch_id = uploaded(client, "customers", data, "people.csv")
    page = preview(client, "customers", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 1, "update": 1, "unchanged": 1, "error": 1}
    assert errors(page) == [
        ("5", "not-an-address", "E-mail", "Enter a valid e-mail address, like name@example.com.")
    ]
    assert updates(page) == [("2", "ADA@Example.com", "Last name", "Lovelace", "King")]
    page = confirm(client, "customers", batch_id, "valid_only").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Customer, ada.id).last_name == "King"
    grace = db.session.scalar(select(Customer).where(Customer.email == "grace@example.com"))
    assert grace.phone == "+1 555"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.record_id == ada.id, AuditEvent.action == "update")
    )
    assert event.actor_email == clerk.email and event.note.startswith(f"Import #{batch_id}")


# --- jobs ------------------------------------------------------------------------------------


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=2)
def test_large_files_are_previewed_and_applied_as_jobs(app, client, auth, catalogue):
    auth.login_as("manager")
    rows = [[f"JOB-{n}", f"Item {n}", "1.50", "1", "yes"] for n in range(5)]
    batch_id = uploaded(client, "products", csv_bytes(PRODUCT_HEADER, *rows))
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    response = client.post(
        f"/admin/product/import/{batch_id}/preview/",
        data={**current_mapping(page), "csrf_token": csrf_token_from(page)},
    )
    job_id = job_of(response)
    assert response.headers["Location"].endswith(f"/admin/jobs/{job_id}/")
    assert run_next(app) == job_id
    job = db.session.get(Job, job_id, populate_existing=True)
    assert (job.state, job.progress_done, job.progress_total) == ("done", 5, 5)
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 5, "update": 0, "unchanged": 0, "error": 0}
    assert product("JOB-0") is None

    response = confirm(client, "products", batch_id, follow=False)
    assert "/admin/jobs/" in response.headers["Location"]
    assert run_next(app) is not None
    assert db.session.get(ImportBatch, batch_id, populate_existing=True).state == "applied"
    assert product("JOB-4").name == "Item 4"


def test_pages_answer_while_an_import_is_applied(app, client, auth, catalogue, monkeypatch, clock):
    """An import writes all its rows in one transaction; while it does, the console's
    pages answer from what was committed before it. On SQLite the transaction outgrows
    its page cache (made small here, as 100,000 rows outgrow the usual one): in the
    rollback-journal mode it then locked every reader out until its commit, and the
    list below failed with "database is locked" after the busy timeout.

    The clock stands still (``clock``): a request a minute after the sign-in would
    note the session's activity, a write, which waits for the import's commit."""
    from sqlalchemy import event

    from console import database
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager = StaffFactory(email="boss@staff.test", role="manager")
    rows = [[f"WAL-{n:04}", f"Imported kettle {n}", "4.50"] for n in range(3 * engine.CHUNK)]
    batch = previewed_import(app, manager, *rows)
    auth.login_as("manager")

    def small_cache(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA cache_size=20")  # pages
        cursor.close()

    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 1_000)
        event.listen(db.engine, "connect", small_cache)
        db.engine.dispose()  # connections from here on have the small cache
    seen: list[tuple[int, int, bool, bool]] = []

    def meanwhile(done: int) -> None:
        if done < 2 * engine.CHUNK or seen:
            return
        before = client.get("/admin/product/?search=KET-1")
        imported = client.get("/admin/product/?search=WAL-0001")
        seen.append(
            (
                before.status_code,
                imported.status_code,
                "KET-1" in before.get_data(as_text=True),
                "Imported kettle 1" in imported.get_data(as_text=True),
            )
        )

    try:
        import_service.confirm(db.session, batch, valid_only=False)
        outcome = engine.confirm_and_apply(app, db.session, batch, manager, progress=meanwhile)
    finally:
        if sqlite:
            event.remove(db.engine, "connect", small_cache)
    # Both pages answered; the rows being imported were not shown before the commit.
    assert seen == [(200, 200, True, False)]
    assert outcome["counts"]["create"] == len(rows)
    page = client.get("/admin/product/?search=WAL-0001")
    assert "Imported kettle 1" in page.get_data(as_text=True)


# --- templates -------------------------------------------------------------------------------


def test_template_files_name_the_columns(client, auth):
    auth.login_as("manager")
    csv_template = client.get("/admin/product/import/template.csv")
    assert csv_template.get_data(as_text=True).strip() == (
        "SKU,Name,Description,Unit price,Tax rate,Initial stock,Active"
    )
    xlsx_template = client.get("/admin/customer/import/template.xlsx").get_data()
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_template), read_only=True).worksheets[0]
    assert next(sheet.iter_rows(values_only=True)) == (
        "E-mail",
        "First name",
        "Last name",
        "Phone",
        "Notes",
    )


# --- permissions -----------------------------------------------------------------------------


def test_imports_need_the_write_permission_of_what_they_change(client, auth, catalogue):
    auth.login_as("clerk")  # customers.write, not products.write
    assert client.get("/admin/customer/import/").status_code == 200
    assert client.get("/admin/product/import/").status_code == 403
    page = client.get("/admin/product/").get_data(as_text=True)
    assert parse(page).select_one("a.import-link") is None
    assert parse(client.get("/admin/customer/").get_data(as_text=True)).select_one("a.import-link")


def test_another_persons_import_is_refused(client, auth, catalogue):
    other = StaffFactory(email="other@staff.test", role="manager")
    from console.services import imports as import_service

    data = csv_bytes(PRODUCT_HEADER, ["NEW-1", "Cup", "3.00", "1", "yes"])
    batch = import_service.store(
        db.session,
        other,
        "products",
        file_name="theirs.csv",
        file_format="csv",
        data=data,
        headers=PRODUCT_HEADER,
        rows=1,
        mapping={"sku": 0, "name": 1, "unit_price": 2},
    )
    auth.login_as("manager")
    before = snapshot()
    assert batch_page(client, "products", batch.id).status_code == 403
    token = csrf_token_from(client.get("/admin/product/import/").get_data(as_text=True))
    response = client.post(
        f"/admin/product/import/{batch.id}/confirm/", data={"csrf_token": token, "mode": "all"}
    )
    assert response.status_code == 403
    assert snapshot() == before
    assert batch_page(client, "customers", batch.id).status_code == 404  # not a customer import


# --- bad files -------------------------------------------------------------------------------


def zip_bomb(workbook: bool) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if workbook:
            archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    return out.getvalue()


BAD_UPLOADS = {
    "renamed binary": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "catalogue.csv",
        "This file is not a CSV or XLSX file (it holds binary data)",
    ),
    "renamed old excel": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "catalogue.xlsx",
        "This is an old Excel file (.xls)",
    ),
    "xlsx bomb": (zip_bomb(True), "bomb.xlsx", "this looks like a zip bomb"),
    "zip that is not a workbook": (
        zip_bomb(False),
        "archive.xlsx",
        "This zip archive is not an Excel workbook",
    ),
    "wrong encoding": (
        "SKU,Name,Unit price\nM-1,Müller,1.00\n".encode("latin-1"),
        "latin.csv",
        "The file is not UTF-8 text (byte 26 cannot be read)",
    ),
    "empty file": (b"", "empty.csv", "The file is empty"),
    "only blank lines": (b"\r\n\r\n  \n", "blank.csv", "The file is empty"),
    "header only": (b"SKU,Name,Unit price\r\n", "header.csv", "no data rows"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_files_are_refused_and_change_nothing(client, auth, catalogue, case):
    data, name, message = BAD_UPLOADS[case]
    auth.login_as("manager")
    before = snapshot()
    response = upload(client, "products", data, name)
    assert response.status_code == 200
    assert message in alerts(response.get_data(as_text=True))
    assert "Nothing was changed." in alerts(response.get_data(as_text=True))
    assert snapshot() == before


@pytest.mark.settings(IMPORT_MAX_BYTES=2_000)
def test_a_file_over_the_limit_is_refused(client, auth, catalogue):
    auth.login_as("manager")
    before = snapshot()
    rows = [[f"BIG-{n}", "Item", "1.00"] for n in range(200)]
    response = upload(client, "products", csv_bytes(["SKU", "Name", "Unit price"], *rows))
    assert response.status_code == 200
    assert "The file is larger than 2,000 bytes" in alerts(response.get_data(as_text=True))
    assert snapshot() == before


def test_a_wrong_delimiter_is_named(client, auth, catalogue):
    auth.login_as("manager")
    batch_id = uploaded(client, "products", b"SKU:Name:Unit price\nM-1:Mug:1.00\n")
    before = snapshot()
    page = preview(client, "products", batch_id).get_data(as_text=True)
    message = alerts(page)
    assert "Required columns are missing: SKU, Name, Unit price" in message
    assert "Only one column was found: the file's columns must be separated by commas" in message
    assert snapshot()["product"] == before["product"]


def test_missing_required_columns_are_named(client, auth):
    auth.login_as("clerk")
    batch_id = uploaded(client, "customers", csv_bytes(["E-mail", "Phone"], ["a@b.example", "1"]))
    before = snapshot()
    page = preview(client, "customers", batch_id).get_data(as_text=True)
    assert "Required columns are missing: First name, Last name" in alerts(page)
    assert snapshot() == before
    assert parse(page).select_one("form.import-confirm") is None


def test_duplicate_keys_within_the_file_are_errors_on_each_row(client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(
        ["SKU", "Name", "Unit price"],
        ["DUP-1", "First", "1.00"],
        ["OK-2", "Fine", "1.00"],
        ["dup-1", "Second", "2.00"],
    )
    batch_id = uploaded(client, "products", data)
    page = preview(client, "products", batch_id).get_data(as_text=True)
    assert counts(page) == {"create": 1, "update": 0, "unchanged": 0, "error": 2}
    assert [row[:3] for row in errors(page)] == [("2", "DUP-1", "SKU"), ("4", "dup-1", "SKU")]
    assert "The same SKU is on rows 4 as well" in errors(page)[0][3]
    before = snapshot()
    confirm(client, "products", batch_id, "all")
    assert snapshot()["product"] == before["product"]


def test_a_confirmed_file_cannot_be_imported_again(client, auth, catalogue):
    manager = auth.login_as("manager")
    data = csv_bytes(["SKU", "Name", "Unit price"], ["ONCE-1", "Once", "1.00"])
    batch_id = uploaded(client, "products", data, "once.csv")
    preview(client, "products", batch_id)
    confirm(client, "products", batch_id)
    assert product("ONCE-1") is not None
    before = snapshot()
    response = upload(client, "products", data, "once-again.csv")
    message = alerts(response.get_data(as_text=True))
    assert f"This file was imported already: import #{batch_id} (once.csv)" in message
    assert f"confirmed by {manager.email}" in message
    assert snapshot() == before


def test_a_tax_rate_change_is_previewed_and_audited_by_name(client, auth, catalogue):
    manager = auth.login_as("manager")
    kettle, _lamp = catalogue
    reduced = TaxRate(name="Reduced", rate=Decimal("5.50"))
    db.session.add(reduced)
    db.session.commit()
    data = csv_bytes(
        ["SKU", "Name", "Unit price", "Tax rate"], ["KET-1", "Kettle", "39.90", "Reduced"]
    )
    batch_id = uploaded(client, "products", data)
    page = preview(client, "products", batch_id).get_data(as_text=True)
    assert updates(page) == [("2", "KET-1", "Tax rate", "Zero", "Reduced")]
    confirm(client, "products", batch_id)
    assert product("KET-1").tax_rate.name == "Reduced"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.record_id == kettle.id, AuditEvent.action == "update")
    )
    assert event.actor_email == manager.email
    assert event.changes == {
        "tax_rate": ["Zero (0.00 %) (#1)", f"Reduced (5.50 %) (#{reduced.id})"]
    }


@pytest.mark.settings(IMPORT_MAX_BYTES=1_000)
def test_a_file_far_over_the_limit_is_refused_after_its_first_bytes(client, auth, catalogue):
    """Only one byte past the limit is read from the upload."""
    auth.login_as("manager")
    before = snapshot()
    response = upload(client, "products", b"SKU,Name,Unit price\n" + b"X,Y,1.00\n" * 20_000)
    assert response.status_code == 200
    assert "The file is larger than 1,000 bytes" in alerts(response.get_data(as_text=True))
    assert snapshot() == before


@pytest.mark.settings(IMPORT_MAX_BYTES=1_000, MAX_CONTENT_LENGTH=50_000)
def test_a_request_over_the_body_limit_gets_a_page_saying_so(client, auth, catalogue):
    """A body over ``MAX_CONTENT_LENGTH`` is refused before it is read, with a message."""
    auth.login_as("manager")
    before = snapshot()
    response = upload(client, "products", b"SKU,Name,Unit price\n" + b"X,Y,1.00\n" * 20_000)
    assert response.status_code == 413
    page = text_of(parse(response.get_data(as_text=True)))
    assert "files of up to 1,000 bytes" in page and "Nothing was changed." in page
    assert snapshot() == before


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_an_import_job_refused_for_errors_fails_and_changes_nothing(app, client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(
        PRODUCT_HEADER, ["NEW-1", "Cup", "3.00", "1", "yes"], ["BAD", "", "1", "1", ""]
    )
    batch_id = uploaded(client, "products", data)
    preview(client, "products", batch_id)
    run_next(app)
    assert counts(batch_page(client, "products", batch_id).get_data(as_text=True))["error"] == 1
    before = snapshot()
    response = confirm(client, "products", batch_id, "all", follow=False)
    job_id = job_of(response)
    assert run_next(app) == job_id
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job.state == "failed" and "1 row has errors" in job.error
    after = snapshot()
    assert after["product"] == before["product"]
    assert after["audit_event"] == before["audit_event"]
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    assert "1 row has errors" in text_of(parse(page).select_one(".import-error"))


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_an_import_job_writes_its_refusal_in_its_owners_language(app, client, auth, catalogue):
    """The runner writes a job's words for its owner: a German manager's refused import
    says why in German, though no request of theirs is running when the job fails."""
    manager = auth.login_as("manager")
    manager.language = "de"
    db.session.commit()
    data = csv_bytes(
        PRODUCT_HEADER,
        ["NEW-1", "Cup", "3.00", "1", "yes"],
        ["BAD-1", "", "1", "1", ""],
        ["BAD-2", "", "1", "1", ""],
    )
    batch_id = uploaded(client, "products", data)
    preview(client, "products", batch_id)
    run_next(app)
    response = confirm(client, "products", batch_id, "all", follow=False)
    job_id = job_of(response)
    assert run_next(app) == job_id
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job.state == "failed"
    assert job.error.startswith("2 Zeilen haben Fehler, daher wurde nichts importiert"), job.error
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    assert "2 Zeilen haben Fehler" in text_of(parse(page).select_one(".import-error"))


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_a_cancelled_import_job_leaves_the_import_failed_and_its_file_importable(
    app, client, auth, catalogue
):
    manager = auth.login_as("manager")
    data = csv_bytes(
        PRODUCT_HEADER, ["NEW-1", "Cup", "3.00", "1", "yes"], ["NEW-2", "Pot", "4", "1", ""]
    )
    batch_id = uploaded(client, "products", data, "pots.csv")
    preview(client, "products", batch_id)
    run_next(app)
    response = confirm(client, "products", batch_id, follow=False)
    job_id = job_of(response)
    from console.services import jobs as jobs_service

    jobs_service.cancel(db.session, manager, job_id)
    assert run_next(app) is None  # nothing left to run
    page = batch_page(client, "products", batch_id).get_data(as_text=True)
    assert text_of(parse(page).select_one("#import-state")) == "Failed"
    assert "Nothing was imported: The job was cancelled." in alerts(page)
    assert product("NEW-1") is None
    # The file was never applied, so it may be uploaded again.
    assert upload(client, "products", data, "pots.csv").status_code == 302


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_a_preview_job_previews_the_mapping_of_the_moment(app, client, auth, catalogue):
    auth.login_as("manager")
    data = csv_bytes(
        ["SKU", "Name", "Title", "Unit price"],
        ["NEW-1", "Cup", "Mug", "3"],
        ["NEW-2", "Pot", "Jar", "4"],
    )
    batch_id = uploaded(client, "products", data)
    preview(client, "products", batch_id)  # a job, queued
    # Mapped again (Title as the name) before the job ran.
    from console.services import imports as import_service

    batch = db.session.get(ImportBatch, batch_id)
    import_service.set_mapping(db.session, batch, {"sku": 0, "name": 2, "unit_price": 3})
    first = db.session.scalar(select(Job.id).order_by(Job.id.desc()))
    assert run_next(app) == first
    job = db.session.get(Job, first, populate_existing=True)
    # The job read the import as mapped when it ran: its preview is of the new mapping.
    assert job.state == "done"
    batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
    assert batch.state == "previewed" and batch.mapping["name"] == 2
    assert batch.report["counts"]["create"] == 2
    # Mapped again while a job previews: that job's preview is not kept.
    report = batch.report
    import_service.set_mapping(db.session, batch, {"sku": 0, "name": 1, "unit_price": 3})
    assert import_service.record_preview(db.session, batch_id, report, first) is False
    assert db.session.get(ImportBatch, batch_id, populate_existing=True).report is None


def test_too_many_columns_or_rows_are_refused(client, auth, catalogue, monkeypatch):
    from console.jobs import import_files

    auth.login_as("manager")
    before = snapshot()
    wide = csv_bytes([f"Column {n}" for n in range(201)], ["x"] * 201)
    response = upload(client, "products", wide)
    assert "The file has 201 columns; an import reads at most 200" in alerts(
        response.get_data(as_text=True)
    )
    monkeypatch.setattr(import_files, "MAX_ROWS", 3)
    long = csv_bytes(["SKU", "Name", "Unit price"], *[[f"L-{n}", "L", "1"] for n in range(4)])
    response = upload(client, "products", long)
    assert "The file has more than 3 rows, the most an import takes" in alerts(
        response.get_data(as_text=True)
    )
    assert snapshot() == before


def kettle_and_cup(app):
    """An import of a new price for KET-1 and a new product NEW-1, stored and checked
    (not confirmed) by a manager: ``(manager, batch, plan)``."""
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager = StaffFactory(email="boss@staff.test", role="manager")
    headers = ["SKU", "Name", "Unit price"]
    data = csv_bytes(headers, ["KET-1", "Kettle", "50.00"], ["NEW-1", "Cup", "2"])
    batch = import_service.store(
        db.session,
        manager,
        "products",
        file_name="kettle-and-cup.csv",
        file_format="csv",
        data=data,
        headers=headers,
        rows=2,
        mapping={"sku": 0, "name": 1, "unit_price": 2},
    )
    spec = engine.SPECS["products"]
    return (
        manager,
        batch,
        engine.check_rows(db.session, spec, engine.table_of(app, batch), batch.mapping),
    )


def previewed_import(app, manager, *rows: list[str]):
    """An import of ``rows`` (SKU, name, price) stored and previewed by ``manager``."""
    from console.jobs import imports as engine
    from console.services import imports as import_service

    headers = ["SKU", "Name", "Unit price"]
    data = csv_bytes(headers, *rows)
    batch = import_service.store(
        db.session, manager, "products", file_name="changed.csv", file_format="csv",
        data=data, headers=headers, rows=len(rows),
        mapping={"sku": 0, "name": 1, "unit_price": 2},
    )  # fmt: skip
    engine.preview(app, db.session, batch)
    return db.session.get(ImportBatch, batch.id)


def test_a_record_changed_between_preview_and_confirm_is_caught(app, catalogue):
    """The confirmation writes the rows as the preview checked them: a row whose record
    changed since (or, to create, whose SKU was taken since) refuses an all-or-nothing
    import, and is left out with valid rows only; the others are written as previewed."""
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager = StaffFactory(email="boss@staff.test", role="manager")
    batch = previewed_import(app, manager, ["KET-1", "Kettle", "50.00"], ["NEW-1", "Cup", "2"])
    assert batch.report["counts"]["update"] == 1 and batch.report["counts"]["create"] == 1
    kettle = product("KET-1")
    kettle.name = "Renamed after the preview"
    db.session.commit()
    before = snapshot()
    import_service.confirm(db.session, batch, valid_only=False)
    with pytest.raises(import_service.ImportRefused, match=r"Row 2 \(KET-1\) was changed"):
        engine.confirm_and_apply(app, db.session, batch, manager)
    after = snapshot()
    assert after["product"] == before["product"] and product("NEW-1") is None
    assert db.session.get(ImportBatch, batch.id).state == "failed"

    batch = previewed_import(
        app, manager, ["KET-1", "Kettle", "60.00"], ["NEW-2", "Mug", "3"], ["LAMP-2", "Lamp", "13"]
    )
    kettle = product("KET-1")
    kettle.unit_price = Decimal("45.00")
    ProductFactory(sku="NEW-2", name="Made meanwhile", unit_price=Decimal("1.00"))
    db.session.commit()
    import_service.confirm(db.session, batch, valid_only=True)
    outcome = engine.confirm_and_apply(app, db.session, batch, manager)
    assert outcome["counts"] == {"create": 0, "update": 1, "unchanged": 0, "error": 2}
    assert {error["key"] for error in outcome["errors"]} == {"KET-1", "NEW-2"}
    assert product("KET-1").unit_price == Decimal("45.00")  # not overwritten
    assert product("NEW-2").name == "Made meanwhile"
    assert product("LAMP-2").unit_price == Decimal("13.00")  # unchanged since: written


def test_rows_checked_by_the_preview_are_not_checked_again(app, catalogue, monkeypatch):
    """Only the rows whose record changed since the preview (here none) or that were in
    error go through the form again at the confirmation."""
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager = StaffFactory(email="boss@staff.test", role="manager")
    batch = previewed_import(
        app, manager, ["KET-1", "Kettle", "50.00"], ["NEW-1", "Cup", "2"], ["BAD-1", "", "1"]
    )
    checked_again: list[int] = []
    check_row = engine._RowCheck.__call__
    monkeypatch.setattr(
        engine._RowCheck,
        "__call__",
        lambda self, line, *rest: checked_again.append(line) or check_row(self, line, *rest),
    )
    import_service.confirm(db.session, batch, valid_only=True)
    outcome = engine.confirm_and_apply(app, db.session, batch, manager)
    assert outcome["counts"] == {"create": 1, "update": 1, "unchanged": 0, "error": 1}
    assert checked_again == [4]  # the row in error only
    assert product("KET-1").unit_price == Decimal("50.00")
    assert db.session.scalar(select(func.count()).select_from(ImportCheckedRow)) == 0


def test_a_forms_own_field_checks_apply_to_every_row(app, catalogue, monkeypatch):
    """Each row's fields are filled and checked one by one (``_RowCheck``); a form's own
    ``filter_<field>`` and ``validate_<field>`` apply as ``Form.process`` and
    ``Form.validate`` apply them."""
    from wtforms.validators import ValidationError

    from console.jobs import imports as engine
    from console.services import imports as import_service

    row_form_class = engine._row_form_class

    def with_own_checks(view, spec, mapped):
        class OwnChecks(row_form_class(view, spec, mapped)):  # type: ignore[misc]
            def filter_name(self, value):
                return value.upper() if value else value

            def validate_name(form, field):  # noqa: N805 - WTForms calls it (form, field)
                if field.data == "FORBIDDEN":
                    raise ValidationError("Not a name for a product.")

        return OwnChecks

    monkeypatch.setattr(engine, "_row_form_class", with_own_checks)
    manager = StaffFactory(email="boss@staff.test", role="manager")
    batch = previewed_import(app, manager, ["OWN-1", "forbidden", "1"], ["OWN-2", "fine", "2"])
    assert batch.report["counts"] == {"create": 1, "update": 0, "unchanged": 0, "error": 1}
    assert [(e["line"], e["field"], e["message"]) for e in batch.report["errors"]] == [
        (2, "Name", "Not a name for a product.")
    ]
    import_service.confirm(db.session, batch, valid_only=True)
    engine.confirm_and_apply(app, db.session, batch, manager)
    assert product("OWN-2").name == "FINE" and product("OWN-1") is None


def test_a_record_changed_after_the_check_is_not_overwritten(app, catalogue):
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager, batch, plan = kettle_and_cup(app)
    kettle, _lamp = catalogue
    spec = engine.SPECS["products"]
    kettle.name = "Renamed meanwhile"
    db.session.commit()
    before = snapshot()
    with pytest.raises(import_service.ImportRefused, match="was changed or deleted by someone"):
        engine.apply(db.session, spec, [plan.rows], batch, manager, valid_only=False)
    assert snapshot()["product"] == before["product"]

    plan = engine.check_rows(db.session, spec, engine.table_of(app, batch), batch.mapping)
    kettle = product("KET-1")
    kettle.unit_price = Decimal("45.00")
    db.session.commit()
    outcome = engine.apply(db.session, spec, [plan.rows], batch, manager, valid_only=True)
    assert outcome["counts"]["create"] == 1 and outcome["counts"]["error"] == 1
    assert product("KET-1").unit_price == Decimal("45.00")  # not overwritten
    assert product("NEW-1") is not None


# --- the bulk write: the same audit trail as the forms, progress until committed -------------


def events_of(record_type: str, record_id: int) -> list[dict]:
    """The audit events of one record, as a person (or a test) compares them."""
    db.session.expire_all()
    found = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.record_type == record_type, AuditEvent.record_id == record_id)
        .order_by(AuditEvent.id)
    ).all()
    return [
        {
            "action": e.action,
            "actor": e.actor_email,
            "label": e.record_label,
            "version": e.record_version,
            "parent": (e.parent_type, e.parent_id),
            "changes": e.changes,
        }
        for e in found
    ]


def same_but_key(events: list[dict], key: str, other: str) -> list[dict]:
    """``events`` with the record's key ``key`` read as ``other`` (labels and values)."""
    text = repr(events).replace(key, other)
    return eval(text)  # noqa: S307 - reads back the repr of plain dicts made above


def test_products_imported_in_bulk_are_audited_as_the_form_audits_them(client, auth, app):
    """Created and edited through the form, or through an import: the same events."""
    auth.login_as("manager")
    reduced = TaxRate(name="Reduced", rate=Decimal("5.50"))
    db.session.add(reduced)
    db.session.commit()
    typed = {
        "name": "Kettle",
        "description": "Steel, 1.7 l",
        "unit_price": "39.9",
        "stock": "7",
        "active": "y",
        "tax_rate": str(reduced.id),
    }
    response = submit(client, "/admin/product/new/", {**typed, "sku": "FORM-1"})
    assert response.status_code == 302, alerts(response.get_data(as_text=True))
    header = ["SKU", "Name", "Description", "Unit price", "Tax rate", "Stock on hand", "Active"]
    created = csv_bytes(header, ["BULK-1", "Kettle", "Steel, 1.7 l", "39.9", "Reduced", "7", "yes"])
    batch_id = uploaded(client, "products", created, "new.csv")
    preview(client, "products", batch_id)
    confirm(client, "products", batch_id)
    by_form, by_import = product("FORM-1"), product("BULK-1")
    assert by_import is not None and by_import.version == 1
    assert events_of("product", by_import.id) == same_but_key(
        events_of("product", by_form.id), "FORM-1", "BULK-1"
    )

    # An edit of the price, active flag, description and tax rate (and a stock, ignored).
    edited = {
        **typed,
        "description": "",
        "unit_price": "41.50",
        "stock": "0",
        "tax_rate": "1",
        "version": str(by_form.version),
    }
    del edited["active"]  # the box unticked
    response = submit(client, f"/admin/product/edit/?id={by_form.id}", {**edited, "sku": "FORM-1"})
    assert response.status_code == 302, alerts(response.get_data(as_text=True))
    changed = csv_bytes(header, ["BULK-1", "Kettle", "", "41.50", "Zero", "0", "no"])
    batch_id = uploaded(client, "products", changed, "edit.csv")
    preview(client, "products", batch_id)
    confirm(client, "products", batch_id)
    by_form, by_import = product("FORM-1"), product("BULK-1")
    # Stock is left as it was by both: it changes through the stock ledger only.
    assert (by_import.unit_price, by_import.stock, by_import.active) == (Decimal("41.50"), 7, False)
    assert by_form.stock == 7
    assert by_import.version == by_form.version == 2
    form_events = events_of("product", by_form.id)
    assert [e["action"] for e in form_events] == ["create", "update"]
    assert form_events[1]["changes"]["tax_rate"] == [
        f"Reduced (5.50 %) (#{reduced.id})",
        "Zero (0.00 %) (#1)",
    ]
    assert events_of("product", by_import.id) == same_but_key(form_events, "FORM-1", "BULK-1")


def test_customers_imported_in_bulk_are_audited_and_found_as_typed_ones(client, auth):
    """The form's events, and the search text the customer picker matches, kept in bulk."""
    auth.login_as("clerk")
    typed = {"first_name": "Zoë", "last_name": "Müller", "phone": "+49 30 1", "notes": "VIP"}
    response = submit(client, "/admin/customer/new/", {**typed, "email": "zoe@form.example.com"})
    assert response.status_code == 302, alerts(response.get_data(as_text=True))
    header = ["E-mail", "First name", "Last name", "Phone", "Notes"]
    data = csv_bytes(header, ["zoe@bulk.example.com", "Zoë", "Müller", "+49 30 1", "VIP"])
    batch_id = uploaded(client, "customers", data)
    preview(client, "customers", batch_id)
    confirm(client, "customers", batch_id)

    def customer(email: str) -> Customer:
        db.session.expire_all()
        return db.session.scalar(select(Customer).where(Customer.email == email))

    by_form, by_import = customer("zoe@form.example.com"), customer("zoe@bulk.example.com")
    assert by_import.search_text == "zoe muller zoe bulk.example.com"
    assert events_of("customer", by_import.id) == same_but_key(
        events_of("customer", by_form.id), "form.example.com", "bulk.example.com"
    )
    data = csv_bytes(header, ["ZOE@bulk.example.com", "Zoé", "Curie", "", "VIP"])
    batch_id = uploaded(client, "customers", data)
    preview(client, "customers", batch_id)
    confirm(client, "customers", batch_id)
    by_import = customer("zoe@bulk.example.com")
    assert (by_import.last_name, by_import.phone, by_import.version) == ("Curie", None, 2)
    assert by_import.search_text == "zoe curie zoe bulk.example.com"
    (_created, updated) = events_of("customer", by_import.id)
    assert updated["changes"] == {
        "first_name": ["Zoë", "Zoé"],
        "last_name": ["Müller", "Curie"],
        "phone": ["+49 30 1", None],
    }


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=1)
def test_an_import_job_reports_progress_while_it_writes(app, client, auth, catalogue, monkeypatch):
    """The rows are checked and written a chunk at a time in one transaction, whose
    rows nobody else sees before it commits; its progress is seen meanwhile (on
    PostgreSQL: SQLite's one writer is the import, so its bar waits for the commit),
    and no more than a chunk of rows' outcomes is held at any time."""
    import gc

    from sqlalchemy import func

    from console.jobs import imports as engine
    from console.jobs.runner import JobContext

    monkeypatch.setattr(engine, "CHUNK", 2)  # chunks of two rows
    monkeypatch.setattr(JobContext, "REPORT_SECONDS", 0)  # every chunk's report is written
    auth.login_as("manager")
    rows = [[f"JOB-{n}", f"Item {n}", "1.50", "1", "yes"] for n in range(6)]
    rows.append(["KET-1", "Kettle", "45.00", "9", "yes"])  # an update
    batch_id = uploaded(client, "products", csv_bytes(PRODUCT_HEADER, *rows))
    preview(client, "products", batch_id)
    run_next(app)
    response = confirm(client, "products", batch_id, follow=False)
    job_id = job_of(response)

    seen: list[tuple[int, int, int, int]] = []
    write = engine._BulkWriter.write

    def observed(writer, prepared, *, valid_only):
        """After each chunk's write: the job's progress and the imported rows, as
        another connection sees them, and the row outcomes alive in the process."""
        write(writer, prepared, valid_only=valid_only)
        with db.engine.connect() as conn:
            job = conn.execute(
                select(Job.progress_done, Job.progress_total).where(Job.id == job_id)
            ).one()
            committed = conn.scalar(
                select(func.count()).select_from(Product).where(Product.sku.like("JOB-%"))
            )
        alive = sum(isinstance(o, engine.RowResult) for o in gc.get_objects())
        seen.append((*job, committed, alive))

    monkeypatch.setattr(engine._BulkWriter, "write", observed)
    assert run_next(app) == job_id
    # Seen before each chunk's own report: the rows of the chunks before it.
    progress = [0, 2, 4, 6] if db.engine.dialect.name == "postgresql" else [0, 0, 0, 0]
    assert [(done, total, committed) for done, total, committed, _ in seen] == [
        (done, 7, 0) for done in progress
    ]
    # A chunk's rows (two chunks' while the next is checked), not all seven.
    assert max(alive for *_rest, alive in seen) <= 4
    job = db.session.get(Job, job_id, populate_existing=True)
    assert (job.state, job.progress_done, job.progress_total) == ("done", 7, 7)
    assert product("JOB-5") is not None and product("KET-1").unit_price == Decimal("45.00")


def test_a_clash_while_writing_leaves_no_row_and_no_event(app, catalogue):
    """Rows and audit events already written by the import's transaction roll back."""
    from console.jobs import imports as engine
    from console.services import imports as import_service

    manager, batch, plan = kettle_and_cup(app)
    assert [row.action for row in plan.rows] == ["update", "create"]
    ProductFactory(sku="new-1", name="Typed meanwhile")  # the same SKU, another case
    before = snapshot()
    with pytest.raises(import_service.ImportRefused, match="Another change to the same records"):
        engine.apply(db.session, plan.spec, [plan.rows], batch, manager, valid_only=True)
    after = snapshot()
    assert after["product"] == before["product"]
    assert after["audit_event"] == before["audit_event"]


def test_a_product_import_brings_new_stock_through_the_ledger(client, auth):
    """New products' stock is "received" in the ledger; existing products' stock stays."""
    from console.models import StockMovement
    from console.services import stock as stock_service

    auth.login_as("manager")
    header = ["SKU", "Name", "Unit price", "Stock on hand"]
    first = csv_bytes(header, ["LEDG-1", "Lamp", "9.90", "12"], ["LEDG-2", "Bulb", "1.20", "0"])
    batch_id = uploaded(client, "products", first, "first.csv")
    preview(client, "products", batch_id)
    confirm(client, "products", batch_id)
    lamp = product("LEDG-1")
    assert (lamp.stock, product("LEDG-2").stock) == (12, 0)
    movements = db.session.scalars(
        select(StockMovement).where(StockMovement.product_id == lamp.id)
    ).all()
    assert [(m.quantity, m.reason, m.balance_after) for m in movements] == [(12, "received", 12)]
    assert movements[0].note.startswith(f"Import #{batch_id}")
    # A second file with another stock for the lamp leaves its stock alone.
    again = csv_bytes(header, ["LEDG-1", "Lamp", "9.90", "40"])
    batch_id = uploaded(client, "products", again, "again.csv")
    preview(client, "products", batch_id)
    confirm(client, "products", batch_id)
    assert product("LEDG-1").stock == 12
    assert stock_service.verify(db.session).mismatches == []


@pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=3 * REPORT_LIMIT)
def test_a_preview_past_the_display_cap_says_so_and_counts_every_row(client, auth, catalogue):
    auth.login_as("manager")
    many, bad = REPORT_LIMIT + 105, REPORT_LIMIT + 10
    created = uploaded(
        client,
        "products",
        csv_bytes(
            PRODUCT_HEADER, *([f"CAP-{n}", f"Cap {n}", "5.00", "1", "yes"] for n in range(many))
        ),
    )
    preview(client, "products", created)
    assert counts(confirm(client, "products", created).get_data(as_text=True))["create"] == many
    data = csv_bytes(
        PRODUCT_HEADER,
        *([f"CAP-{n}", f"Cap {n}", "6.00", "1", "yes"] for n in range(many)),
        *([f"BAD-{n}", f"Bad {n}", "-1", "1", "yes"] for n in range(bad)),
    )
    before = snapshot()
    page = preview(client, "products", uploaded(client, "products", data)).get_data(as_text=True)

    assert counts(page) == {"create": 0, "update": many, "unchanged": 0, "error": bad}
    shown_errors, shown_updates = errors(page), updates(page)
    assert len(shown_errors) == len(shown_updates) == REPORT_LIMIT
    assert shown_errors[0] == (
        str(many + 2),
        "BAD-0",
        "Unit price",
        "The price must be 0 or more.",
    )
    assert shown_updates[-1] == (
        str(REPORT_LIMIT + 1),
        f"CAP-{REPORT_LIMIT - 1}",
        "Unit price",
        "5.00",
        "6.00",
    )
    html = parse(page)
    assert text_of(html.select_one(".import-errors-cap")) == (
        f"The first {REPORT_LIMIT:,} of {bad:,} errors are shown."
    )
    assert text_of(html.select_one(".import-updates-cap")) == (
        f"The first {REPORT_LIMIT:,} of {many:,} updated records are shown."
    )
    after = snapshot()
    assert after["product"] == before["product"] and after["audit_event"] == before["audit_event"]
