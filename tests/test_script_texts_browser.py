"""In Chromium: the console's scripts write in the page's language, and the pending
queue's keys work whatever the language (the scripts read the page's data, never its
English words)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.test_journeys import sign_in

pytestmark = pytest.mark.postgres


def test_a_german_manager_works_the_queue_by_keyboard_with_german_script_texts(
    app, browser, live_server, screenshot
):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    StaffFactory(email="manager@staff.test", role="manager", language="de")
    product = ProductFactory(sku="KEY-1", unit_price=Decimal("3.00"), stock=100)
    customer = CustomerFactory()
    first, _second = (
        OrderFactory(customer=customer, lines={product: 1}, actor=clerk) for _ in range(2)
    )
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "manager")
        page.goto("/admin/pending/")
        # forms.js names Flask-Admin's unnamed checkboxes, in German.
        expect(page.locator("input.action-rowtoggle")).to_have_attribute(
            "aria-label", "Alle Datensätze auswählen"
        )
        expect(page.locator("input.action-checkbox").first).to_have_attribute(
            "aria-label", f"Datensatz {first.id} auswählen"
        )
        # j moves to the first order's link (Flask-Admin titles it in German), Enter opens it.
        page.keyboard.press("j")
        expect(page.locator(":focus")).to_have_attribute(
            "href", re.compile(rf"^/admin/pending/details/\?id={first.id}&")
        )
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("#order-status")).to_have_text("Offen")
    except Exception:
        screenshot(page, "german-queue")
        raise
    finally:
        context.close()


@pytest.mark.parametrize(
    ("language", "drawn", "counted"),
    # French counts 0 as singular, German does not; both count 1 as singular.
    [("fr", "0 sur 1 ligne", "0 ligne"), ("de", "0 von 1 Zeile", "0 Zeilen")],
)
def test_a_jobs_row_count_takes_the_languages_plural(
    app, browser, live_server, screenshot, language, drawn, counted
):
    from console.database import db
    from console.models import Job

    owner = StaffFactory(email="clerk@staff.test", role="clerk", language=language)
    with_total = Job(kind="export", title="Export", owner_id=owner.id, progress_total=1)
    without_total = Job(kind="export", title="Export", owner_id=owner.id)
    db.session.add_all([with_total, without_total])
    db.session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "clerk")
        # jobs.js writes the count again from each progress answer, with consolePlural.
        with page.expect_response(re.compile(r"/progress$")):
            page.goto(f"/admin/jobs/{with_total.id}/")
        expect(page.locator("#job-count")).to_have_text(drawn)
        with page.expect_response(re.compile(r"/progress$")):
            page.goto(f"/admin/jobs/{without_total.id}/")
        expect(page.locator("#job-count")).to_have_text(counted)
    except Exception:
        screenshot(page, f"job-rows-{language}")
        raise
    finally:
        context.close()
