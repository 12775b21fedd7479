"""The demo data: complete, consistent, idempotent, and refused in production."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from flask_security import verify_password
from sqlalchemy import select

from console.database import db
from console.models import (
    Customer,
    CustomerAddress,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Promotion,
    Role,
    ShippingMethod,
    TaxRate,
    User,
)
from console.models.base import utcnow
from console.services.orders import compute_total
from seeds.demo import DEMO_ACCOUNTS, load_demo_data
from tests.helpers import count_rows


def _counts():
    models = (
        Role,
        User,
        Customer,
        CustomerAddress,
        Product,
        Order,
        OrderLine,
        TaxRate,
        ShippingMethod,
        Promotion,
    )
    return {m.__name__: count_rows(m) for m in models}


def test_seed_loads_the_demo_shop(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "manager@example.com" in result.output and "manager-demo-password" in result.output
    counts = _counts()
    assert counts["User"] == 4
    assert counts["Customer"] == 50
    assert counts["CustomerAddress"] == 50
    assert counts["Product"] == 40
    assert counts["Order"] == 200
    statuses = Counter(db.session.scalars(select(Order.status)))
    assert set(statuses) == {s.value for s in OrderStatus}


def test_demo_customers_have_an_address_book_and_orders_a_copy(app):
    load_demo_data()
    for customer in db.session.scalars(select(Customer)):
        (address,) = customer.addresses
        assert address.is_default_billing and address.is_default_shipping
        assert address.postal().problems() == {}
    for order in db.session.scalars(select(Order)):
        default = order.customer.default_address("shipping")
        assert order.shipping_address == order.billing_address == default.postal()


def test_seed_gives_customers_seeded_before_the_address_book_an_address(app):
    load_demo_data()
    db.session.execute(CustomerAddress.__table__.delete())
    db.session.commit()
    report = load_demo_data()
    assert report.addresses == 50 and report.customers == 0 and report.orders == 0
    assert count_rows(CustomerAddress) == 50
    assert load_demo_data().created_anything is False


def test_demo_accounts_have_their_role_and_bcrypt_password(app):
    load_demo_data()
    for role, (email, password) in DEMO_ACCOUNTS.items():
        user = db.session.scalar(select(User).filter_by(email=email))
        assert [r.name for r in user.roles] == [role]
        assert user.password.startswith("$2b$")
        assert verify_password(password, user.password)


def test_every_demo_order_adds_up(app):
    """Lines add up to the subtotal, the tax lines to the tax, and (prices without tax)
    subtotal - discount + shipping + tax to the total."""
    load_demo_data()
    taxed = 0
    for order in db.session.scalars(select(Order)):
        assert order.lines, order.number
        assert order.subtotal == compute_total(order.lines)
        assert order.subtotal == sum(line.unit_price * line.quantity for line in order.lines)
        assert order.total == (
            order.subtotal - order.discount_total + order.shipping_total + order.tax_total
        )
        assert order.tax_total == sum(tax.tax for tax in order.tax_lines)
        assert order.total == sum(tax.base + tax.tax for tax in order.tax_lines)
        taxed += order.tax_total > 0
    assert taxed > 100  # most demo products are taxed at the standard rate


def test_seed_adds_the_pricing_data(app):
    load_demo_data()
    rates = dict(db.session.execute(select(TaxRate.name, TaxRate.rate)).all())
    assert rates == {"Standard": Decimal("20.00"), "Reduced": Decimal("5.50"), "Zero": 0}
    methods = {m.name: (m.price, m.free_above) for m in db.session.scalars(select(ShippingMethod))}
    assert methods == {
        "Standard delivery": (Decimal("4.90"), Decimal("50.00")),
        "Express delivery": (Decimal("12.00"), None),
    }
    codes = {p.code: p for p in db.session.scalars(select(Promotion))}
    assert set(codes) == {"WELCOME10", "FIVEOFF", "SUMMER2025"}
    assert codes["FIVEOFF"].minimum_subtotal == Decimal("30.00")
    assert codes["SUMMER2025"].valid_until < utcnow()


def test_seed_twice_changes_nothing(runner):
    runner.invoke(args=["seed"])
    before = _counts()
    totals = dict(db.session.execute(select(Order.number, Order.total)).all())
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0
    assert "nothing changed" in result.output
    assert _counts() == before
    assert dict(db.session.execute(select(Order.number, Order.total)).all()) == totals


def test_seed_keeps_an_admins_edit_of_a_role(app):
    load_demo_data()
    viewer = db.session.scalar(select(Role).filter_by(name="viewer"))
    viewer.permissions = ["orders.read"]
    db.session.commit()
    load_demo_data()
    db.session.expire_all()
    assert db.session.scalar(select(Role).filter_by(name="viewer")).permissions == ["orders.read"]


@pytest.mark.settings(
    ENV_NAME="production",
    SECRET_KEY="k" * 48,
    SECURITY_PASSWORD_SALT="s" * 48,
    SECURITY_TOTP_SECRETS={"1": "t" * 48},
)
def test_seed_refuses_production_unless_forced(app):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["seed"])
    assert refused.exit_code != 0
    assert "production" in refused.output
    assert count_rows(Customer) == 0
    forced = runner.invoke(args=["seed", "--force"])
    assert forced.exit_code == 0, forced.output
    assert count_rows(Customer) == 50


def test_the_latest_shipped_demo_orders_have_their_invoices_once(app):
    from console.models import Invoice
    from seeds.demo import DEMO_INVOICES

    first = load_demo_data()
    shipped = list(
        db.session.scalars(
            select(Order.id)
            .where(Order.status.in_((OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value)))
            .order_by(Order.shipped_at.desc(), Order.id.desc())
        )
    )
    latest = set(shipped[:DEMO_INVOICES])
    invoiced = dict(db.session.execute(select(Invoice.order_id, Invoice.number)).all())
    assert len(shipped) > DEMO_INVOICES and set(invoiced) == latest
    assert first.invoices == DEMO_INVOICES
    year = utcnow().year
    assert sorted(invoiced.values()) == [f"INV-{year}-{n:06d}" for n in range(1, DEMO_INVOICES + 1)]
    assert load_demo_data().invoices == 0
    assert count_rows(Invoice) == DEMO_INVOICES


def test_the_demo_has_one_returned_and_refunded_order_with_its_credit_note(app):
    from console.models import CreditNote, Return, StockMovement
    from console.services import stock

    assert load_demo_data().returns == 1
    (returned,) = db.session.scalars(select(Return)).all()
    assert returned.state == "refunded" and returned.lines[0].outcome == "restock"
    note = db.session.get(CreditNote, returned.credit_note_id)
    assert note.order_id == returned.order_id and note.total == returned.refund_total
    assert (
        db.session.scalar(
            select(StockMovement.quantity).where(StockMovement.return_id == returned.id)
        )
        == 1
    )
    assert stock.verify(db.session).mismatches == []
    assert load_demo_data().returns == 0
    assert count_rows(Return) == 1
