"""Two people in real browsers edit one customer; the History link shows what happened.

Debian's Chromium driven by Playwright, against the console served on loopback.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from console.extensions import db
from console.models import Customer
from tests.audit_support import make_customer, staff_email
from tests.helpers import STAFF_PASSWORD, create_staff, require
from tests.services import free_port

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def app_config() -> dict:
    # The browser asks for 127.0.0.1:<port>, not the test suite's fixed server name.
    return {"SERVER_NAME": None}


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The app served by a real HTTP server in a thread, for the browser."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def chromium():
    if not os.path.exists(CHROMIUM):
        require(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(chromium, live_url: str, email: str):
    page = chromium.new_context().new_page()
    page.goto(f"{live_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_url}/admin/")
    return page


def test_two_browsers_editing_one_customer(app, live_url, chromium):
    customer = make_customer(phone="+33 6 00")
    create_staff(staff_email("clerk"), "clerk")
    create_staff(staff_email("manager"), "manager")
    edit = f"{live_url}/admin/customer/edit/?id={customer.id}"

    clerk = sign_in(chromium, live_url, staff_email("clerk"))
    manager = sign_in(chromium, live_url, staff_email("manager"))
    clerk.goto(edit)
    manager.goto(edit)

    clerk.fill("input[name=phone]", "+33 6 11")
    clerk.click("input[type=submit][value=Save]")
    clerk.wait_for_selector(".alert-success")

    manager.fill("textarea[name=notes]", "Call after 6 pm")
    manager.click("input[type=submit][value=Save]")
    alert = manager.wait_for_selector(".alert-danger").inner_text()
    assert "Someone else changed this customer" in alert
    assert "phone: +33 6 00 → +33 6 11" in alert
    assert staff_email("clerk") in alert
    # The refused form still holds what the manager typed.
    assert manager.input_value("textarea[name=notes]") == "Call after 6 pm"

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.phone, stored.notes) == ("+33 6 11", None)

    manager.goto(f"{live_url}/admin/customer/details/?id={customer.id}")
    manager.click("a.history-link")
    rows = manager.locator("table.model-list > tbody > tr")
    newest = rows.first.inner_text()
    assert "update" in newest and staff_email("clerk") in newest and "+33 6 11" in newest
    assert rows.count() == 2  # the update and the creation, newest first
    assert "create" in rows.nth(1).inner_text()
