"""The console in a real browser (Debian's Chromium via Playwright).

Checks what only a browser can: that the Content-Security-Policy lets the admin pages'
own scripts run (Select2 widgets, the delete confirmation) while the browser reports
no violation, and that each role sees its menu after signing in through the form.
"""

from __future__ import annotations

import pytest

from console.database import db
from console.models import Customer, Order, OrderLine, Product
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres


def sample_data() -> None:
    customer = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    product = Product(sku="SKU-1", name="Kettle", unit_price="10.00", stock=5)
    order = Order(number="SO-TEST-1", customer=customer, status="pending", total="20.00")
    order.lines = [OrderLine(product=product, quantity=2, unit_price="10.00")]
    db.session.add_all([customer, product, order])
    db.session.commit()


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/admin/order/")
    assert "/login" in page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/order/")


def test_admin_pages_run_under_the_csp(live_server, browser):
    sample_data()
    StaffFactory(email="admin@staff.test", role="admin")
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    sign_in(page, live_server, "admin@staff.test")
    menu = page.inner_text("nav")
    for name in ["Orders", "Customers", "Products", "Admin"]:
        assert name in menu

    # Select2 turns the customer field into its widget only when its scripts run.
    page.goto(f"{live_server}/admin/order/new/")
    page.wait_for_selector(".select2-container", timeout=5000)
    # "Add line" runs through the order grid's script (static/js/order-grid.js).
    lines_before = page.locator("input[name$='-quantity']").count()
    page.click("#lines-button")
    assert page.locator("input[name$='-quantity']").count() == lines_before + 1

    # The row delete button asks for confirmation through its inline handler.
    page.goto(f"{live_server}/admin/product/")
    page.click("form.icon button[title='Delete Record']")
    assert dialogs == ["Are you sure you want to delete this record?"]
    assert db.session.get(Product, 1) is not None  # dismissed: nothing deleted

    for path in ["/admin/", "/admin/customer/", "/admin/staff_user/", "/admin/role/", "/change"]:
        page.goto(f"{live_server}{path}")
    assert problems == [], "\n".join(problems)
    context.close()


def test_viewer_sees_only_read_views(live_server, browser):
    sample_data()
    StaffFactory(email="viewer@staff.test", role="viewer")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "viewer@staff.test")
    menu = page.inner_text("nav")
    assert "Orders" in menu and "Customers" in menu
    assert "Admin" not in menu
    assert page.locator("a[title='Create New Record']").count() == 0
    response = page.goto(f"{live_server}/admin/staff_user/")
    assert response.status == 403
    assert "Not allowed" in page.content()
    context.close()
