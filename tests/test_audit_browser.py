"""Two people in real browsers edit one customer; the History link shows what happened.

Debian's Chromium driven by Playwright, against the console served on loopback.
"""

from __future__ import annotations

import pytest

from console.database import db
from console.models import Customer
from tests.audit_support import staff_email
from tests.factories import CustomerFactory, StaffFactory
from tests.helpers import STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres


def sign_in(browser, live_server: str, email: str):
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")
    return page


def test_two_browsers_editing_one_customer(app, live_server, browser):
    customer = CustomerFactory(phone="+33 6 00")
    StaffFactory(email=staff_email("clerk"), role="clerk")
    StaffFactory(email=staff_email("manager"), role="manager")
    edit = f"{live_server}/admin/customer/edit/?id={customer.id}"

    clerk = sign_in(browser, live_server, staff_email("clerk"))
    manager = sign_in(browser, live_server, staff_email("manager"))
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
    # What the manager typed is kept beside the current values ("Use my entries" puts it
    # back into the form: test_edit_conflict_browser.py).
    assert "Call after 6 pm" in manager.inner_text("#edit-conflict-table")

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.phone, stored.notes) == ("+33 6 11", None)

    manager.goto(f"{live_server}/admin/customer/details/?id={customer.id}")
    manager.click("a.history-link")
    rows = manager.locator("table.model-list > tbody > tr")
    newest = rows.first.inner_text()
    assert "Changed" in newest and staff_email("clerk") in newest and "+33 6 11" in newest
    assert rows.count() == 2  # the update and the creation, newest first
    assert "Created" in rows.nth(1).inner_text()
