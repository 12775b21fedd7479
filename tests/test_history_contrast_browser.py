"""The History button is readable: its text and border meet WCAG AA contrast (4.5:1).

Measured in Chromium on the colours the browser computes, against the page's white.
"""

from __future__ import annotations

import re

import pytest

from tests.factories import CustomerFactory, StaffFactory
from tests.helpers import STAFF_PASSWORD

pytestmark = pytest.mark.postgres


def luminance(css: str) -> float:
    """Relative luminance (WCAG 2) of an ``rgb(...)``/``rgba(...)`` colour."""
    red, green, blue = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_history_button_meets_wcag_aa(app, live_server, browser, screenshot):
    StaffFactory(email="manager@staff.test", role="manager")
    customer = CustomerFactory()
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "manager@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server}/admin/")
    page.goto(f"{live_server}/admin/customer/details/?id={customer.id}")
    link = page.locator("a.history-link")
    colours = link.evaluate(
        """element => {
            const style = getComputedStyle(element);
            return {text: style.color, border: style.borderTopColor,
                    background: style.backgroundColor,
                    page: getComputedStyle(document.body).backgroundColor};
        }"""
    )
    screenshot(page, "customer-details")
    background = colours["background"]
    if background.startswith("rgba") and background.replace(" ", "").endswith(",0)"):
        background = colours["page"]
    assert contrast(colours["text"], background) >= 4.5, colours
    assert contrast(colours["border"], colours["page"]) >= 4.5, colours
