"""A French-speaking clerk in Europe/Paris reads French words, amounts as 1 234,56 €
and Paris times on the order list and the order page (issue 17's "a French clerk in
Paris"); the Berlin manager's side is tests/test_berlin_manager_browser.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import update

from console.database import db
from console.models import Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import parse, text_of

PARIS = ZoneInfo("Europe/Paris")
TOTAL = "1\u202f234,56\xa0€"


def test_a_french_clerk_in_paris_reads_french_amounts_and_paris_times(client, auth):
    clerk = StaffFactory(
        email="clerk@staff.test", role="clerk", language="fr", timezone="Europe/Paris"
    )
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = OrderFactory(customer=CustomerFactory(), lines={lamp: 1}, actor=clerk)
    # 23:30 UTC on 24 November: already the 25th in Paris (00:30 CET).
    placed = dt.datetime(2026, 11, 24, 23, 30)
    db.session.execute(
        update(Order).where(Order.id == order.id).values(created_at=placed, placed_at=placed)
    )
    db.session.commit()
    local = placed.replace(tzinfo=dt.UTC).astimezone(PARIS)
    day = format_date(local.date(), "medium", locale="fr_FR")
    auth.login("clerk@staff.test")

    listing = parse(client.get("/admin/order/").get_data(as_text=True))
    assert "Commandes" in text_of(listing.find("nav"))
    # The amount as written, its narrow and plain no-break spaces included.
    assert listing.select_one("td.col-total").get_text().strip() == TOTAL
    assert text_of(listing.select_one("td.col-created_at")) == f"{day} 00:30"
    assert "Europe/Paris" in text_of(listing.find("footer"))

    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert page.find(id="order-total").get_text().strip() == TOTAL
    assert text_of(page.find(id="order-taken")).endswith(f"{day} 00:30 CET")
    assert page.find("html")["lang"] == "fr"
