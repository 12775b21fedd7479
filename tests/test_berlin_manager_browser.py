"""In Chromium: a German-speaking manager in Europe/Berlin reads German labels,
amounts as 1.234,56 € and local times on the dashboard, the order list and the order
page; an order placed at 23:30 UTC counts on the Berlin day it was placed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from playwright.sync_api import expect
from sqlalchemy import update

from console.database import db
from console.models import Order
from console.models.base import utcnow
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.test_journeys import sign_in

pytestmark = pytest.mark.postgres

BERLIN = ZoneInfo("Europe/Berlin")
TOTAL = "1.234,56\xa0€"


def german_day(day: dt.date) -> str:
    return format_date(day, "dd MMM", locale="de_DE")


def test_a_german_manager_in_berlin_reads_german_amounts_and_local_times(
    app, browser, live_server, screenshot
):
    manager = StaffFactory(
        email="manager@staff.test", role="manager", language="de", timezone="Europe/Berlin"
    )
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = OrderFactory(customer=CustomerFactory(), lines={lamp: 1}, actor=manager)
    # 23:30 UTC yesterday: already the next day in Berlin (00:30 CET, 01:30 CEST).
    placed = dt.datetime.combine(utcnow().date() - dt.timedelta(days=1), dt.time(23, 30))
    db.session.execute(
        update(Order).where(Order.id == order.id).values(created_at=placed, placed_at=placed)
    )
    db.session.commit()
    local = placed.replace(tzinfo=dt.UTC).astimezone(BERLIN)
    shown = f"{format_date(local.date(), 'medium', locale='de_DE')}, {local:%H:%M}"

    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "manager")
        # The dashboard: German words, the order on its Berlin day, its local time.
        expect(page.locator("#widget-my-orders")).to_contain_text(f"Offen, {shown}")
        bars = page.locator("svg title").all_text_contents()
        assert f"{german_day(local.date())}: 1 Bestellung, 0,00\xa0€" in bars, bars
        previous = local.date() - dt.timedelta(days=1)
        assert f"{german_day(previous)}: 0 Bestellungen, 0,00\xa0€" in bars, bars
        expect(page.locator("footer")).to_contain_text("Europe/Berlin")

        page.goto("/admin/order/")
        expect(page.locator("nav")).to_contain_text("Bestellungen")
        expect(page.locator("td.col-total")).to_have_text(TOTAL)
        expect(page.locator("td.col-created_at")).to_have_text(shown)
        expect(page.locator("td.col-status")).to_have_text("Offen")

        page.goto(f"/admin/order/details/?id={order.id}")
        expect(page.locator("#order-total")).to_have_text(TOTAL)
        expect(page.locator("#order-taken")).to_contain_text(f"{shown} {local.tzname()}")
        expect(page.locator("#order-status")).to_have_text("Offen")
    except Exception:
        screenshot(page, "berlin-manager")
        raise
    finally:
        context.close()
