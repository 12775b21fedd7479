"""An internal note added from the order's page in a real browser (Chromium, Playwright).

What only a browser checks: the note form under the timeline posts with its CSRF
token, the page comes back at the timeline with the note in it, line breaks kept; the
status badge the browser paints is readable (WCAG AA, 4.5:1).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OrderNote
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``rgb(...)`` colours as the browser computes them."""

    def luminance(css: str) -> float:
        red, green, blue = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])

        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_clerk_adds_a_note_from_the_order_page(app, live_server, browser, screenshot):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    customer = CustomerFactory()
    product = ProductFactory(sku="PUMP-1", unit_price=Decimal("15.00"), stock=5)
    order = OrderFactory(customer=customer, lines={product: 2}, actor=clerk)
    order_id = order.id

    page = browser.new_context(base_url=live_server).new_page()
    page.set_default_timeout(10_000)
    page.goto("/login")
    page.fill("input[name=email]", "clerk@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"/admin/order/details/?id={order_id}")

    badge = page.locator("#order-status .status-badge")
    assert badge.inner_text().strip() == "Pending"
    colours = badge.evaluate(
        """element => {
            const style = getComputedStyle(element);
            return {text: style.color, background: style.backgroundColor};
        }"""
    )
    assert contrast(colours["text"], colours["background"]) >= 4.5, colours

    page.fill("#order-note-body", "Customer will collect in person.\nCall before.")
    page.click("#order-note-form button[type=submit]")
    # Waits for the page's load event, so its stylesheet (which keeps the note's line
    # breaks) applies before the text is read as the browser lays it out.
    page.wait_for_url(re.compile(r".*#order-timeline$"))
    assert (
        page.locator(".alert-success")
        .inner_text()
        .strip()
        .endswith(f"Note added to order {order.number}.")
    )
    note_text = page.locator(".timeline-note .timeline-note-body").inner_text()
    assert note_text == "Customer will collect in person.\nCall before."
    assert page.locator("#order-note-body").input_value() == ""
    screenshot(page, "order-with-note")

    db.session.expire_all()
    note = db.session.scalar(select(OrderNote))
    assert (note.order_id, note.author.email) == (order_id, "clerk@staff.test")
    assert note.body == "Customer will collect in person.\nCall before."
