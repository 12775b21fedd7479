"""A large export in a real browser: the job's progress bar moves to the end, then download.

The inline limit is set low, so the manager's export (the Export menu's form, posted
with its CSRF token) becomes a job and the browser is taken to its page. The runner
starts only once the page shows the queued job, so the page is certainly watching a
job that has not finished; the bar must then reach 100% and offer the file without
the page being reloaded.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD
from tests.test_exports import expected_order, seed_orders

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.settings(EXPORT_INLINE_MAX_ROWS=100, EXPORT_BATCH_SIZE=50),
]

ORDERS = 3000


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_a_manager_watches_a_large_export_finish_and_downloads_it(app, page, screenshot):
    seed_orders(ORDERS)
    StaffFactory(email="boss@staff.example.com", role="manager")
    page.goto("/login")
    page.fill("input[name=email]", "boss@staff.example.com")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto("/admin/order/")
    page.click(".export-menu a.dropdown-toggle")
    # The entry is a form: its POST carries the CSRF token; the answer sends to the job.
    page.click(".export-menu >> button.dropdown-item:has-text('CSV for Excel')")
    page.wait_for_url("**/admin/jobs/*/")
    assert page.text_content("#job-state") == "Queued"
    page.wait_for_selector("text=runs in the background")
    # A mark that a reload would wipe out.
    page.evaluate("window.stillTheSamePage = true")

    runtime = app.extensions["console_jobs"]
    runtime.start_thread()
    try:
        page.wait_for_selector("#job-download:not(.d-none)")
        screenshot(page, "export-done")
    finally:
        runtime.stop_thread()
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.text_content("#job-state") == "Done"
    assert page.get_attribute("#job-bar", "aria-valuenow") == "100"
    assert page.text_content("#job-percent") == "100%"
    assert page.is_hidden("#job-controls")

    with page.expect_download() as info:
        page.click("#job-download-link")
    download = info.value
    assert download.suggested_filename.startswith("orders-")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [row["Order"] for row in rows] == [expected_order(i)[0] for i in range(1, ORDERS + 1)]
