"""The workflow buttons in a real browser (Debian's Chromium driven by Playwright).

What only a browser checks: the buttons submit their CSRF-protected forms, the bulk
Reject asks for its reason in a prompt and sends it with the selected orders.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, Product
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")


def test_manager_approves_and_bulk_rejects_in_the_browser(app, page):
    clerk = StaffFactory(email="taker@staff.test", role="clerk")
    StaffFactory(email="boss@staff.example.com", role="manager")
    customer, products = catalogue({"A": 10})
    first = OrderFactory(customer=customer, lines={products["A"]: 4}, actor=clerk)
    second = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=clerk)
    first_id, second_id, first_number = first.id, second.id, first.number

    sign_in(page, "boss@staff.example.com")
    page.click("text=Pending approval")
    page.wait_for_url("**/admin/pending/**")
    page.goto(f"/admin/pending/details/?id={first_id}")
    page.click("#transition-approve button")
    page.wait_for_selector(f"text=Order {first_number} approved.")
    db.session.expire_all()
    assert db.session.get(Order, first_id).status == "approved"
    assert db.session.scalar(select(Product.stock)) == 6

    page.goto("/admin/order/")
    page.check(f"input.action-checkbox[value='{second_id}']")
    page.once("dialog", lambda dialog: dialog.accept("Duplicate of another order"))
    page.click("text=With selected")
    page.click("text=Reject (asks for the reason)")
    page.wait_for_selector("text=Rejected:")
    db.session.expire_all()
    rejected = db.session.get(Order, second_id)
    assert (rejected.status, rejected.rejection_reason) == (
        "rejected",
        "Duplicate of another order",
    )
