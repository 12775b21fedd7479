"""A product import in a real browser: bad rows named, the file fixed, confirmed as a job.

A manager uploads a catalogue with two bad rows, reads the preview (the row limit is
set low, so each step runs as a job and the browser is taken to its page), fixes the
file, uploads it again, confirms, and watches the progress bar of the application
reach the end without the page being reloaded. The job runner starts only once each
job's page shows it queued.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from console.database import db
from console.models import AuditEvent, Product
from tests.factories import ProductFactory, StaffFactory
from tests.test_workflow_browser import sign_in

pytestmark = [pytest.mark.postgres, pytest.mark.settings(IMPORT_INLINE_MAX_ROWS=5)]

ROWS = 40


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def catalogue(*, fixed: bool) -> bytes:
    lines = ["SKU;Name;Unit price;Stock on hand"]
    for n in range(ROWS):
        price = "4.50"
        name = f"Mug {n}"
        if not fixed and n == 7:
            price = "-3"  # below zero
        if not fixed and n == 21:
            name = ""  # required
        lines.append(f"MUG-{n:03d};{name};{price};{n}")
    lines[1] = "KET-1;Kettle;44.00;9"  # an update of a product already there
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload(page, data: bytes, name: str) -> None:
    page.goto("/admin/product/")
    page.click("a.import-link")
    page.set_input_files(
        "#import-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    page.click("form.import-upload [type=submit]")
    page.wait_for_url("**/admin/product/import/*/")


def run_the_job_shown(app, page) -> None:
    """On a job's page showing it queued: run it, and wait for the page to show it done."""
    page.wait_for_url("**/admin/jobs/*/")
    expect(page.locator("#job-state")).to_have_text("Queued")
    runtime = app.extensions["console_jobs"]
    runtime.start_thread()
    try:
        expect(page.locator("#job-state")).to_have_text("Done")
    finally:
        runtime.stop_thread()


def test_a_manager_fixes_a_catalogue_the_preview_found_wrong(app, page, screenshot):
    ProductFactory(sku="KET-1", name="Kettle", unit_price=Decimal("39.90"), stock=9)
    StaffFactory(email="boss@staff.example.com", role="manager")
    sign_in(page, "boss@staff.example.com")

    upload(page, catalogue(fixed=False), "catalogue.csv")
    expect(page.locator("#map-unit_price option:checked")).to_have_text("Unit price")
    page.click("#import-preview-button")
    run_the_job_shown(app, page)
    page.click("#job-back")

    counts = page.locator("table.import-counts")
    expect(counts.locator("[data-count=error]")).to_have_text("2")
    expect(counts.locator("[data-count=create]")).to_have_text(f"{ROWS - 3}")
    expect(counts.locator("[data-count=update]")).to_have_text("1")
    errors = page.locator("table.import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("MUG-007")
    expect(errors.nth(0)).to_contain_text("The price must be 0 or more.")
    expect(errors.nth(1)).to_contain_text("MUG-021")
    expect(errors.nth(1)).to_contain_text("This field is required")
    expect(page.locator("table.import-updates")).to_contain_text("44.00")
    screenshot(page, "import-preview-errors")

    upload(page, catalogue(fixed=True), "catalogue-fixed.csv")
    page.click("#import-preview-button")
    run_the_job_shown(app, page)
    page.click("#job-back")
    expect(page.locator("table.import-counts [data-count=error]")).to_have_text("0")
    expect(page.locator("table.import-errors")).to_have_count(0)

    page.click("#import-confirm-button")
    page.wait_for_url("**/admin/jobs/*/")
    expect(page.locator("#job-state")).to_have_text("Queued")
    page.evaluate("window.stillTheSamePage = true")  # a reload would wipe it out
    runtime = app.extensions["console_jobs"]
    runtime.start_thread()
    try:
        expect(page.locator("#job-bar")).to_have_attribute("aria-valuenow", "100")
        expect(page.locator("#job-state")).to_have_text("Done")
    finally:
        runtime.stop_thread()
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#job-percent")).to_have_text("100%")
    screenshot(page, "import-applied")

    page.click("#job-back")
    expect(page.locator("#import-state")).to_have_text("Applied")
    db.session.expire_all()
    skus = db.session.scalar(select(func.count()).select_from(Product))
    assert skus == ROWS
    kettle = db.session.scalar(select(Product).where(Product.sku == "KET-1"))
    assert kettle.unit_price == Decimal("44.00")
    noted = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.note.like("Import #2 %"))
    )
    assert noted == ROWS
