"""A day at the console in a real browser (Debian's Chromium driven by Playwright).

Each journey signs in through the login page, clicks what a person clicks, and checks
the database afterwards. Screenshots of the key pages are kept under
``test-artifacts/screenshots/`` (see README.md) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from console.database import db
from console.models import (
    Customer,
    Order,
    OrderStatus,
    OutboxMessage,
    Product,
    Return,
    StockMovement,
)
from console.services import stock, workflow
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import ROLES, STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres

MENU = {
    "admin": {"Orders", "Pending approval", "Customers", "Products", "Notifications",
              "Audit trail", "Admin"},
    "manager": {"Orders", "Pending approval", "Customers", "Products", "Notifications",
                "Audit trail"},
    "clerk": {"Orders", "Customers", "Products"},
    "viewer": {"Orders", "Customers", "Products", "Audit trail"},
}  # fmt: skip
ALL_ENTRIES = set().union(*MENU.values())


@pytest.fixture
def people(app):
    """One staff member per role."""
    return {role: StaffFactory(email=f"{role}@staff.test", role=role) for role in ROLES}


@pytest.fixture
def open_page(browser, live_server):
    """``open_page()`` gives a fresh browser window (its own cookies) on the console."""
    contexts = []

    def open_() -> object:
        context = browser.new_context(base_url=live_server, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_
    for context in contexts:
        context.close()


def sign_in(page, role: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", f"{role}@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")


def pick(page, field_id: str, search: str) -> None:
    """Choose a record in a Select2 look-up (Flask-Admin's ajax picker) as a person does."""
    page.click(f"#s2id_{field_id} a.select2-choice")
    page.fill("#select2-drop input.select2-input", search)
    # Wait for the answer to this search: results of an earlier (empty) search may
    # still be listed while the look-up for ``search`` is on its way.
    results = page.locator("#select2-drop .select2-result-selectable")
    results.filter(has_text=re.compile(re.escape(search), re.IGNORECASE)).first.click()


def menu_entries(page) -> set[str]:
    nav = page.inner_text("nav")
    return {entry for entry in ALL_ENTRIES if entry in nav}


def test_each_role_sees_its_menu_and_dashboard(app, people, open_page, screenshot):
    for role in ROLES:
        page = open_page()
        sign_in(page, role)
        assert menu_entries(page) == MENU[role], role
        assert page.locator("#widget-pending").count() == 1
        screenshot(page, f"dashboard-{role}")


def test_clerk_takes_an_order_and_manager_approves_it(app, people, open_page, screenshot):
    _, products = catalogue({"KET-1": 10, "LAMP-1": 4}, price="12.50")

    # The clerk records a new customer...
    clerk = open_page()
    sign_in(clerk, "clerk")
    clerk.click("nav >> text=Customers")
    clerk.click("a[title='Create New Record']")
    clerk.fill("#first_name", "Grace")
    clerk.fill("#last_name", "Hopper")
    clerk.fill("#email", "grace@example.com")
    clerk.fill("#phone", "+1 555 0100")
    clerk.click("input[type=submit][value='Save']")
    clerk.wait_for_selector("text=Record was successfully created.")
    customer = db.session.scalar(select(Customer).filter_by(email="grace@example.com"))
    assert customer is not None

    # ...and takes her order with two lines.
    clerk.goto("/admin/order/new/")
    pick(clerk, "customer", "grace")
    clerk.click("#lines-button")
    clerk.click("#lines-button")
    pick(clerk, "lines-0-product", "KET-1")
    clerk.fill("#lines-0-quantity", "3")
    pick(clerk, "lines-1-product", "LAMP-1")
    clerk.fill("#lines-1-quantity", "2")
    screenshot(clerk, "clerk-new-order")
    clerk.click("input[type=submit][value='Save']")
    clerk.wait_for_selector("text=Record was successfully created.")
    order = db.session.scalar(select(Order).filter_by(customer_id=customer.id))
    assert sorted((line.product.sku, line.quantity) for line in order.lines) == [
        ("KET-1", 3),
        ("LAMP-1", 2),
    ]
    assert order.total == Decimal("62.50")
    assert order.status == OrderStatus.PENDING

    # The manager finds it on the pending list and approves it.
    manager = open_page()
    sign_in(manager, "manager")
    manager.click("nav >> text=Pending approval")
    manager.wait_for_selector(f"text={order.number}")
    screenshot(manager, "manager-pending-list")
    row = manager.locator("tr", has_text=order.number)
    row.locator("a[title='View Record']").click()
    manager.click("#transition-approve button")
    manager.wait_for_selector(f"text=Order {order.number} approved.")
    screenshot(manager, "manager-approved-order")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.APPROVED
    stock = dict(db.session.execute(select(Product.sku, Product.stock)).all())
    assert stock == {"KET-1": 7, "LAMP-1": 2}
    assert products  # the catalogue the order drew from


def test_viewer_exports_orders_as_csv(app, people, open_page, screenshot):
    customer, products = catalogue({"KET-1": 10})
    order = OrderFactory(customer=customer, lines={products["KET-1"]: 2}, actor=people["clerk"])
    viewer = open_page()
    sign_in(viewer, "viewer")
    viewer.click("nav >> text=Orders")
    # The export menu opens by Bootstrap's script: wait for the page's load, or on a busy
    # machine the click lands on a toggle no script handles yet.
    viewer.wait_for_url("**/admin/order/", wait_until="load")
    screenshot(viewer, "viewer-order-list")
    viewer.click(".export-menu a.dropdown-toggle")
    with viewer.expect_download() as download_info:
        viewer.click(".export-menu button.dropdown-item:text-is('CSV')")
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert rows[0][0] == "Order"
    assert [row[0] for row in rows[1:]] == [order.number]


def test_a_page_without_permission_shows_the_403_page(app, people, open_page, screenshot):
    clerk = open_page()
    sign_in(clerk, "clerk")
    response = clerk.goto("/admin/audit/")
    assert response.status == 403
    assert clerk.locator("text=Not allowed").count() == 1
    screenshot(clerk, "clerk-forbidden")


def test_a_clerk_receives_one_of_three_back_to_stock_and_a_manager_refunds_it(
    app, people, open_page, screenshot
):
    customer, products = catalogue({"KET-1": 10}, price="30.00")
    order = OrderFactory(customer=customer, lines={products["KET-1"]: 3}, actor=people["clerk"])
    workflow.approve(db.session, order.id, people["manager"])
    workflow.ship(db.session, order.id, people["clerk"], "TRK-3")
    assert db.session.get(Product, products["KET-1"].id).stock == 7

    clerk = open_page()
    sign_in(clerk, "clerk")
    clerk.goto(f"/admin/order/details/?id={order.id}")
    clerk.click("#create-return")
    line = order.lines[0]
    clerk.fill(f"input[name='quantity-{line.id}']", "1")
    clerk.fill("#return-reason", "The lid does not close")
    clerk.click("#return-request-form button[type=submit]")
    clerk.wait_for_selector(f"text=Return 1 of order {order.number} recorded.")
    returned = db.session.scalar(select(Return))
    clerk.check(f"#outcome-{returned.lines[0].id}-restock")
    screenshot(clerk, "clerk-receives-return")
    clerk.click("#return-receive-form button[type=submit]")
    clerk.wait_for_selector("text=Return 1 received; the customer is told.")

    manager = open_page()
    sign_in(manager, "manager")
    manager.goto(f"/admin/returns/details/?id={returned.id}")
    assert manager.inner_text("#refund-most") == "€30.00"
    manager.click("#return-refund-form button[type=submit]")
    manager.wait_for_selector("text=Return 1 refunded: €30.00")
    screenshot(manager, "manager-refunded-return")
    manager.goto(f"/admin/order/details/?id={order.id}")
    manager.wait_for_selector("#order-timeline a.timeline-link >> text=Credit note CN-")

    db.session.expire_all()
    returned = db.session.get(Return, returned.id)
    note = returned.credit_note
    assert returned.state == "refunded" and returned.received_by_id == people["clerk"].id
    assert returned.refunded_by_id == people["manager"].id
    assert note.total == returned.refund_total == Decimal("30.00")
    assert db.session.get(Product, products["KET-1"].id).stock == 8
    (movement,) = db.session.scalars(
        select(StockMovement).where(StockMovement.return_id == returned.id)
    ).all()
    assert (movement.quantity, movement.reason, movement.balance_after) == (
        1,
        "return_restocked",
        8,
    )
    assert stock.verify(db.session).mismatches == []
    mails = {
        m.template: m
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order.id))
    }
    assert mails["return_received"].recipient == customer.email
    assert mails["return_refunded"].credit_note_id == note.id
    assert "We refunded €30.00" in mails["return_refunded"].body_text
