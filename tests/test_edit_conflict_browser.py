"""In Chromium: an order saved by someone else meanwhile; "Use my entries", then Save.

Debian's Chromium driven by Playwright, against the console served on loopback. The
conflict page works without a script of its own: "Use my entries" is a form of its own
that brings the page back with the person's entries in the edit form.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.database import db
from console.models import Order
from tests.audit_support import staff_email
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    PromotionFactory,
    StaffFactory,
)
from tests.helpers import STAFF_PASSWORD

pytestmark = pytest.mark.postgres


def sign_in(browser, live_server: str, email: str, problems: list[str]):
    page = browser.new_context().new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")
    return page


def test_use_my_entries_then_save_an_order(app, live_server, browser, screenshot):
    widget = ProductFactory(sku="SKU-1", name="Widget", unit_price=Decimal("10.00"))
    PromotionFactory(code="SPRING")  # 10 % off
    order = OrderFactory(customer=CustomerFactory(), lines=[(widget, 2)])
    StaffFactory(email=staff_email("clerk"), role="clerk")
    StaffFactory(email=staff_email("manager"), role="manager")
    edit = f"{live_server}/admin/order/edit/?id={order.id}"
    problems: list[str] = []

    clerk = sign_in(browser, live_server, staff_email("clerk"), problems)
    manager = sign_in(browser, live_server, staff_email("manager"), problems)
    clerk.goto(edit)
    manager.goto(edit)

    clerk.fill("input[name=coupon_code]", "SPRING")
    clerk.click("form.admin-form input[type=submit][value=Save]")
    clerk.wait_for_selector(".alert-success")

    manager.fill("input[name=lines-0-quantity]", "5")
    manager.click("form.admin-form input[type=submit][value=Save]")
    alert = manager.wait_for_selector(".alert-danger").inner_text()
    assert "Someone else changed this order" in alert
    table = manager.locator("#edit-conflict-table")
    assert "Quantity: 5" in table.inner_text() and "Quantity: 2" in table.inner_text()
    # The form shows the current order: the clerk's coupon, the line as it is stored.
    assert manager.input_value("form.admin-form input[name=coupon_code]") == "SPRING"
    assert manager.input_value("form.admin-form input[name=lines-0-quantity]") == "2"
    screenshot(manager, "conflict")

    manager.click("#use-my-entries")
    manager.wait_for_selector(".alert-info")
    assert manager.input_value("form.admin-form input[name=lines-0-quantity]") == "5"
    assert manager.input_value("form.admin-form input[name=coupon_code]") == "SPRING"
    db.session.expire_all()
    assert [line.quantity for line in db.session.get(Order, order.id).lines] == [2]

    manager.click("form.admin-form input[type=submit][value=Save]")
    manager.wait_for_selector(".alert-success")
    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert stored.coupon_code == "SPRING"
    assert [line.quantity for line in stored.lines] == [5]
    assert stored.total == Decimal("45.00")  # 5 × 10.00, less SPRING's 10 %
    assert problems == [], problems
