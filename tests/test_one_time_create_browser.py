"""In Chromium: a double click on Save sends the create form once."""

from __future__ import annotations

import pytest

from console.models import Customer
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD, count_rows

pytestmark = pytest.mark.postgres


def test_double_click_on_save_creates_one_customer(live_server, browser):
    StaffFactory(email="clerk@staff.test", role="clerk")
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{live_server}/admin/customer/new/")
    page.fill("input[name=email]", "clerk@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server}/admin/customer/new/", timeout=10_000)

    # First, without leaving the page: count the submissions a second click would make.
    page.fill("input[name=first_name]", "Pierre")
    page.fill("input[name=last_name]", "Curie")
    page.fill("input[name=email]", "pierre@example.com")
    page.evaluate(
        """() => document.querySelector('form.admin-form').addEventListener('submit', (e) => {
            window.submissions = (window.submissions || 0) + 1;
            e.preventDefault();
        })"""
    )
    save = page.locator("form.admin-form input[type=submit]").first
    save.click()
    save.click(force=True)
    assert save.is_disabled()
    assert page.evaluate("() => window.submissions") == 1

    # Then for real: a fresh form, a double click, one POST and one customer.
    page.goto(f"{live_server}/admin/customer/new/")
    page.fill("input[name=first_name]", "Marie")
    page.fill("input[name=last_name]", "Curie")
    page.fill("input[name=email]", "marie@example.com")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.locator("form.admin-form input[type=submit]").first.dblclick()
    page.wait_for_url("**/admin/customer/", timeout=10_000)

    assert len(requests) == 1, requests
    assert count_rows(Customer) == 1
    assert problems == [], problems
    context.close()
