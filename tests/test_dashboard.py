"""The dashboard: aggregate figures, computed by the database, shown per permission."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from console.database import db
from console.models import Customer, Order, OrderLine, OrderStatus, Product
from console.models.base import utcnow
from console.services import dashboard
from tests.factories import StaffFactory
from tests.helpers import parse

TODAY = dt.date(2026, 11, 24)


@pytest.fixture
def history(app):
    """Orders over a few days, in several statuses, and products with little stock."""
    customer = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    product = Product(sku="KET-1", name="Kettle", unit_price=Decimal("10.00"), stock=2)
    plenty = Product(sku="MUG-1", name="Mug", unit_price=Decimal("3.00"), stock=500)
    retired = Product(sku="OLD-1", name="Radio", unit_price=Decimal("1"), stock=0, active=False)
    db.session.add_all([customer, product, plenty, retired])

    def order(number, status, days_ago, total, hour=10):
        created = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour))
        db.session.add(
            Order(
                number=number,
                customer=customer,
                status=status,
                total=Decimal(total),
                created_at=created,
                lines=[OrderLine(product=product, quantity=1, unit_price=Decimal(total))],
            )
        )

    order("A", OrderStatus.APPROVED, 0, "10.00")
    order("B", OrderStatus.DELIVERED, 0, "5.50", hour=23)
    order("C", OrderStatus.PENDING, 0, "7.00")
    order("D", OrderStatus.CANCELLED, 1, "100.00")
    order("E", OrderStatus.SHIPPED, 2, "20.00")
    order("F", OrderStatus.PENDING, 5, "1.00")
    order("G", OrderStatus.DELIVERED, 40, "999.00")  # outside the 30 days
    db.session.commit()


def test_sales_by_day_counts_orders_and_sold_revenue(history):
    days = dashboard.sales_by_day(db.session, days=30, today=TODAY)
    assert len(days) == 30
    assert days[-1].day == TODAY and days[0].day == TODAY - dt.timedelta(days=29)
    by_day = {d.day: (d.orders, d.revenue) for d in days}
    assert by_day[TODAY] == (3, Decimal("15.50"))
    assert by_day[TODAY - dt.timedelta(days=1)] == (1, Decimal("0"))
    assert by_day[TODAY - dt.timedelta(days=2)] == (1, Decimal("20.00"))
    assert by_day[TODAY - dt.timedelta(days=5)] == (1, Decimal("0"))
    assert sum(d.orders for d in days) == 6


def test_pending_summary(history):
    summary = dashboard.pending_summary(db.session)
    assert summary.count == 2
    assert summary.oldest_created_at == dt.datetime.combine(
        TODAY - dt.timedelta(days=5), dt.time(10)
    )


def test_low_stock_lists_active_products_under_the_threshold(history):
    assert [p.sku for p in dashboard.low_stock(db.session, threshold=5)] == ["KET-1"]


def test_dashboard_for_a_manager(client, auth, history):
    auth.login_as("manager")
    html = client.get("/admin/").get_data(as_text=True)
    page = parse(html)
    widgets = {element["id"] for element in page.select('[id^="widget-"]')}
    assert widgets == {
        "widget-pending",
        "widget-sales",
        "widget-low-stock",
        "widget-my-orders",
        "widget-my-activity",
    }
    pending = page.select_one("#widget-pending .display-4").get_text(strip=True)
    assert pending == "2"
    assert "KET-1" in html and "MUG-1" not in html
    assert "Review pending orders" in html
    assert 'href="/admin/pending/"' in html


def test_a_clerk_sees_pending_orders_in_the_order_list(client, auth, history):
    auth.login_as("clerk")
    html = client.get("/admin/").get_data(as_text=True)
    assert "See pending orders" in html
    assert "/admin/order/?flt0_0=pending" in html


def test_the_chart_is_drawn_on_the_server(client, auth, app, history):
    auth.login_as("viewer")
    html = client.get("/admin/").get_data(as_text=True)
    assert "<svg" in html and html.count("<rect") == 30
    assert "cdn" not in html.lower()


def test_a_person_without_roles_gets_the_403_page(client, auth, app):

    StaffFactory(email="nobody@example.com", role=None)
    auth.login("nobody@example.com")
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


def test_dashboard_with_no_orders_at_all(client, auth):
    auth.login_as("clerk")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Nothing is waiting." in html
    assert "You have not taken any order yet." in html
    assert utcnow().strftime("%d %b") in html  # today's bar is labelled


def test_the_dashboard_shows_the_persons_own_recent_activity(client, auth):
    from tests.helpers import submit

    auth.login_as("clerk")
    submit(
        client,
        "/admin/customer/new/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    )
    html = client.get("/admin/").get_data(as_text=True)
    widget = html[html.index('id="widget-my-activity"') :]
    assert "Created" in widget and "Grace Hopper" in widget  # the action by its label
    auth.logout()
    auth.login_as("viewer")
    html = client.get("/admin/").get_data(as_text=True)
    widget = html[html.index('id="widget-my-activity"') :]
    assert "Nothing recorded yet." in widget
