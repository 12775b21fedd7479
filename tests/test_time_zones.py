"""Times in each person's zone: shown, typed in filters and forms, and days on the dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from config import ConfigurationError, load
from console.admin.registry import find_view
from console.database import db
from console.models import Order, Promotion, User
from console.services import dashboard
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, count_rows, csrf_token_from, parse, submit, text_of

LATE = dt.datetime(2026, 11, 24, 23, 30)
"""23:30 UTC on 24 November: already 00:30 on the 25th in Berlin (CET, UTC+1)."""


@pytest.fixture
def late_order(app):
    StaffFactory(email="berlin@staff.test", role="manager", timezone="Europe/Berlin")
    StaffFactory(email="london@staff.test", role="manager")
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    product = ProductFactory(sku="TZ-1", unit_price=Decimal("12.00"), stock=10)
    order = OrderFactory(customer=CustomerFactory(), lines={product: 1}, actor=clerk)
    db.session.execute(
        update(Order).where(Order.id == order.id).values(created_at=LATE, placed_at=LATE)
    )
    db.session.commit()
    return order


def footer(page) -> str:
    return text_of(page.find("footer"))


def test_a_manager_in_berlin_reads_local_times_with_the_zone_named(client, auth, late_order):
    auth.login("berlin@staff.test")
    page = parse(client.get(f"/admin/order/details/?id={late_order.id}").get_data(as_text=True))
    assert text_of(page.find(id="order-taken")).endswith("2026-11-25 00:30 CET")
    assert "times in Europe/Berlin" in footer(page)
    listing = parse(client.get("/admin/order/").get_data(as_text=True))
    cells = [text_of(td) for td in listing.select("td.col-created_at")]
    assert cells == ["2026-11-25 00:30"]
    auth.logout()
    # Someone who chose no zone reads the shop's: UTC unless SHOP_TIMEZONE says otherwise.
    auth.login("london@staff.test")
    page = parse(client.get(f"/admin/order/details/?id={late_order.id}").get_data(as_text=True))
    assert text_of(page.find(id="order-taken")).endswith("2026-11-24 23:30 UTC")
    assert "times in UTC" in footer(page)


@pytest.mark.settings(SHOP_TIMEZONE="America/New_York")
def test_without_a_zone_of_their_own_staff_read_the_shops(client, auth, late_order):
    auth.login("london@staff.test")
    page = parse(client.get(f"/admin/order/details/?id={late_order.id}").get_data(as_text=True))
    assert text_of(page.find(id="order-taken")).endswith("2026-11-24 18:30 EST")
    assert "times in America/New_York" in footer(page)


def test_an_order_late_in_the_utc_day_counts_on_the_local_day(late_order):
    from zoneinfo import ZoneInfo

    berlin = dashboard.sales_by_day(
        db.session, days=2, today=dt.date(2026, 11, 25), zone=ZoneInfo("Europe/Berlin")
    )
    utc = dashboard.sales_by_day(db.session, days=2, today=dt.date(2026, 11, 25))
    assert [(d.day.isoformat(), d.orders) for d in berlin] == [
        ("2026-11-24", 0),
        ("2026-11-25", 1),
    ]
    assert [(d.day.isoformat(), d.orders) for d in utc] == [("2026-11-24", 1), ("2026-11-25", 0)]


def test_the_dashboard_counts_the_berlin_managers_days(client, auth, late_order, clock):
    clock.move_to(dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC))
    auth.login("berlin@staff.test")
    page = parse(client.get("/admin/").get_data(as_text=True))
    labels = [text_of(title) for title in page.select("svg title")]
    assert any(label.startswith("25 Nov: 1 order,") for label in labels), labels
    assert any(label.startswith("24 Nov: 0 orders") for label in labels), labels


def created_filter_key(app, kind: str) -> str:
    """The URL key of the order list's "Created" filter of ``kind`` ("Greater")."""
    view = find_view(app, "order")
    for key, (_index, flt) in view._filter_args.items():
        column = getattr(flt, "column", None)
        if getattr(column, "key", None) == "created_at" and kind in type(flt).__name__:
            return key
    raise AssertionError(f"no Created {kind} filter")


def test_date_filters_are_read_in_the_persons_zone(app, client, auth, late_order):
    key = created_filter_key(app, "Greater")
    query = {f"flt0_{key}": "2026-11-25 00:00:00"}
    auth.login("berlin@staff.test")
    page = parse(client.get("/admin/order/", query_string=query).get_data(as_text=True))
    assert len(page.select("td.col-created_at")) == 1  # 00:30 on the 25th, Berlin time
    auth.logout()
    auth.login("london@staff.test")
    page = parse(client.get("/admin/order/", query_string=query).get_data(as_text=True))
    assert page.select("td.col-created_at") == []  # 23:30 on the 24th, UTC


def test_a_promotion_valid_from_nine_is_nine_in_the_managers_zone(client, auth, late_order):
    auth.login("berlin@staff.test")
    response = submit(
        client,
        "/admin/promotion/new/",
        {
            "code": "MORNING",
            "kind": "percentage",
            "value": "10",
            "valid_from": "2026-12-01 09:00:00",
            "active": "y",
        },
    )
    assert response.status_code == 302, alerts(response.get_data(as_text=True))
    promotion = db.session.scalar(select(Promotion).where(Promotion.code == "MORNING"))
    assert promotion.valid_from == dt.datetime(2026, 12, 1, 8, 0)  # stored in UTC
    form = parse(client.get(f"/admin/promotion/edit/?id={promotion.id}").get_data(as_text=True))
    assert form.find(id="valid_from")["value"] == "2026-12-01 09:00:00"


def profile_zone(email: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(User.timezone).where(User.email == email))


def test_each_person_chooses_their_zone_on_their_profile(client, auth, late_order):
    auth.login("london@staff.test")
    page = parse(client.get("/admin/profile/").get_data(as_text=True))
    options = [option["value"] for option in page.select("#timezone option")]
    assert options[0] == "" and "Europe/Paris" in options and "Asia/Kolkata" in options
    response = submit(client, "/admin/profile/", {"timezone": "Europe/Paris"})
    assert response.status_code == 302
    assert profile_zone("london@staff.test") == "Europe/Paris"
    page = parse(client.get("/admin/profile/").get_data(as_text=True))
    assert "Times are now shown in Europe/Paris." in alerts(str(page))
    assert page.select_one("#timezone option[selected]")["value"] == "Europe/Paris"
    # Blank: back to the shop's zone.
    assert submit(client, "/admin/profile/", {"timezone": ""}).status_code == 302
    assert profile_zone("london@staff.test") is None


@pytest.mark.parametrize("forged", ["Mars/Olympus_Mons", "../../etc/passwd", "x" * 300])
def test_an_unknown_zone_is_refused_and_changes_nothing(client, auth, late_order, forged):
    auth.login("berlin@staff.test")
    token = csrf_token_from(client.get("/admin/profile/").get_data(as_text=True))
    response = client.post("/admin/profile/", data={"csrf_token": token, "timezone": forged})
    assert response.status_code == 400
    assert "Choose a time zone from the list" in alerts(response.get_data(as_text=True))
    assert profile_zone("berlin@staff.test") == "Europe/Berlin"


def test_a_zone_that_no_longer_exists_falls_back_to_the_shops(client, auth, late_order):
    db.session.execute(
        update(User).where(User.email == "berlin@staff.test").values(timezone="Mars/Olympus_Mons")
    )
    db.session.commit()
    auth.login("berlin@staff.test")
    page = parse(client.get(f"/admin/order/details/?id={late_order.id}").get_data(as_text=True))
    assert text_of(page.find(id="order-taken")).endswith("2026-11-24 23:30 UTC")
    assert count_rows(User) == 3


def test_the_shops_zone_must_be_a_known_one(monkeypatch):
    monkeypatch.setenv("SHOP_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ConfigurationError) as refused:
        load("testing")
    assert "SHOP_TIMEZONE='Europe/Atlantis'" in str(refused.value)
    monkeypatch.setenv("SHOP_TIMEZONE", "Europe/Lisbon")
    assert load("testing")["SHOP_TIMEZONE"] == "Europe/Lisbon"
