"""The pricing revision on a database with orders in it: nothing already taken changes.

Runs the revision up and down over real rows (orders referring to products, e-mails
referring to orders) on SQLite, whose table copies must keep every row and constraint,
and on PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from console.database import db
from console.schema import downgrade, upgrade
from tests.helpers import migration

PRICING, BEFORE_PRICING = migration("pricing")

ROWS = [
    "INSERT INTO customer (first_name, last_name, email, search_text)"
    " VALUES ('Ada', 'Lovelace', 'ada@example.com', 'ada lovelace')",
    "INSERT INTO product (sku, name, unit_price, stock) VALUES ('KET-1', 'Kettle', 39.90, 5)",
    "INSERT INTO product (sku, name, unit_price, stock) VALUES ('LAMP-1', 'Lamp', 12.35, 5)",
    "INSERT INTO sales_order (number, customer_id, status, coupon_code, total)"
    " VALUES ('SO-000001', 1, 'pending', 'WINTER', 92.15)",
    "INSERT INTO order_line (order_id, product_id, quantity, unit_price) VALUES (1, 1, 2, 39.90)",
    "INSERT INTO order_line (order_id, product_id, quantity, unit_price) VALUES (1, 2, 1, 12.35)",
    "INSERT INTO outbox_message (recipient, sender, subject, template, body_text, status,"
    " attempts, next_attempt_at, order_id) VALUES ('ada@example.com', 'shop@localhost',"
    " 'Order', 'order_received', 'text', 'sent', 1, CURRENT_TIMESTAMP, 1)",
]


def rows(sql: str) -> list[tuple]:
    """The rows of a raw query, numbers as Decimals (SQLite hands back floats)."""

    def value(cell: object) -> object:
        return Decimal(str(cell)) if isinstance(cell, float) else cell

    with db.engine.connect() as connection:
        return [tuple(map(value, row)) for row in connection.execute(text(sql))]


def test_existing_orders_keep_their_totals_and_get_snapshots(app):
    db.session.remove()
    downgrade(app, BEFORE_PRICING)
    with db.engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))

    upgrade(app, PRICING)

    assert rows("SELECT name, rate FROM tax_rate") == [("Zero", Decimal("0.00"))]
    assert rows("SELECT sku, tax_rate_id FROM product ORDER BY id") == [("KET-1", 1), ("LAMP-1", 1)]
    assert rows("SELECT sku, name, tax_rate, tax_name FROM order_line ORDER BY id") == [
        ("KET-1", "Kettle", Decimal("0.00"), "Zero"),
        ("LAMP-1", "Lamp", Decimal("0.00"), "Zero"),
    ]
    figures = (
        "subtotal, discount_total, shipping_total, tax_total, total, coupon_code, promotion_id"
    )
    assert rows(f"SELECT {figures} FROM sales_order") == [
        (Decimal("92.15"), 0, 0, 0, Decimal("92.15"), "WINTER", None)
    ]
    assert rows("SELECT order_id, rate, name, base, tax FROM order_tax_line") == [
        (1, Decimal("0.00"), "Zero", Decimal("92.15"), Decimal("0.00"))
    ]
    [(admin,)] = rows("SELECT permissions FROM role WHERE name = 'admin'")
    [(clerk,)] = rows("SELECT permissions FROM role WHERE name = 'clerk'")
    assert "promotions.manage" in admin.split(",") and "promotions.manage" not in clerk
    assert rows("SELECT count(*) FROM outbox_message WHERE order_id = 1") == [(1,)]

    downgrade(app, BEFORE_PRICING)
    assert rows("SELECT id, total, coupon_code FROM sales_order") == [
        (1, Decimal("92.15"), "WINTER")
    ]
    assert rows("SELECT count(*) FROM order_line") == [(2,)]
    [(admin,)] = rows("SELECT permissions FROM role WHERE name = 'admin'")
    assert "promotions.manage" not in admin
    upgrade(app)
