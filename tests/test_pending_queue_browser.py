"""In Chromium: a manager works the pending queue by keyboard alone."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from console.database import db
from console.models import Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.test_journeys import sign_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def queue(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    StaffFactory(email="manager@staff.test", role="manager")
    customer = CustomerFactory()
    product = ProductFactory(sku="KEY-1", unit_price=Decimal("3.00"), stock=100)
    return [OrderFactory(customer=customer, lines={product: 1}, actor=clerk) for _ in range(3)]


def statuses(orders) -> list[str]:
    db.session.expire_all()
    ids = [order.id for order in orders]
    found = dict(db.session.execute(select(Order.id, Order.status).where(Order.id.in_(ids))).all())
    return [found[i] for i in ids]


def test_the_pending_queue_by_keyboard_alone(queue, browser, live_server, screenshot):
    first, second, third = queue
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "manager")
        page.goto("/admin/pending/")
        # On the list, j and k move between the orders; Enter opens the focused one.
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        page.keyboard.press("j")
        expect(page.locator(":focus")).to_have_attribute("title", "View Record")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("#order-number")).to_have_text(second.number)

        # ? shows the help; Esc closes it, and no key acts while it is open.
        page.keyboard.press("?")
        help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(help_dialog).to_be_visible()
        screenshot(page, "queue-help")
        page.keyboard.press("a")
        page.keyboard.press("Escape")
        expect(help_dialog).to_be_hidden()
        assert statuses(queue) == ["pending", "pending", "pending"]

        # k goes to the previous order of the queue, j back again.
        with page.expect_navigation():
            page.keyboard.press("k")
        expect(page.locator("#order-number")).to_have_text(first.number)

        # a approves and opens the next order; typing in a field triggers nothing.
        with page.expect_navigation():
            page.keyboard.press("a")
        expect(page.locator("#order-number")).to_have_text(second.number)
        expect(page.locator(".alert")).to_contain_text(f"Order {first.number} approved.")
        assert statuses(queue) == ["approved", "pending", "pending"]

        # r moves to the reason; the letters typed there are the reason, not keys.
        page.keyboard.press("r")
        expect(page.locator("#reject-reason")).to_be_focused()
        page.keyboard.type("a duplicate, we keep the other")
        assert statuses(queue) == ["approved", "pending", "pending"]
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("#order-number")).to_have_text(third.number)
        assert statuses(queue) == ["approved", "rejected", "pending"]
        db.session.expire_all()
        assert db.session.get(Order, second.id).rejection_reason == (
            "a duplicate, we keep the other"
        )

        # b goes back to the list the queue started from.
        with page.expect_navigation():
            page.keyboard.press("b")
        assert urlsplit(page.url).path == "/admin/pending/"
    finally:
        context.close()
