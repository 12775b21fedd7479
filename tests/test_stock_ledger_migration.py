"""The stock ledger's revision on a database with stock and reservations in it.

Existing movements stay; each product whose stock they do not explain gets one
opening balance, so that stock equals the sum of the movements afterwards. Runs on
SQLite (whose table copy must keep every row) and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import text

from console.database import db
from console.schema import downgrade, upgrade
from console.services import stock
from tests.helpers import migration

LEDGER, BEFORE_LEDGER = migration("stock_ledger")

_PRODUCT = (
    "INSERT INTO product (sku, name, unit_price, stock, tax_rate_id)"
    " SELECT sku, name, price, stock, (SELECT min(id) FROM tax_rate) FROM (SELECT "
)

ROWS = [
    "INSERT INTO customer (first_name, last_name, email, search_text)"
    " VALUES ('Ada', 'Lovelace', 'ada@example.com', 'ada lovelace')",
    # KET-1: 10 bought in, 2 reserved by the approved order: 8 left.
    _PRODUCT + "'KET-1' AS sku, 'Kettle' AS name, 39.90 AS price, 8 AS stock) AS p",
    # LAMP-1: nothing ever moved it.
    _PRODUCT + "'LAMP-1' AS sku, 'Lamp' AS name, 12.35 AS price, 4 AS stock) AS p",
    # MUG-1: reserved 3, then the order was cancelled; nothing left on the shelf.
    _PRODUCT + "'MUG-1' AS sku, 'Mug' AS name, 5.00 AS price, 0 AS stock) AS p",
    # CUP-1: its one reservation explains its stock exactly (an opening of zero).
    _PRODUCT + "'CUP-1' AS sku, 'Cup' AS name, 5.00 AS price, 0 AS stock) AS p",
    "INSERT INTO sales_order (number, customer_id, status, total)"
    " VALUES ('SO-000001', 1, 'approved', 79.80)",
    "INSERT INTO stock_movement (product_id, order_id, quantity, reason)"
    " VALUES (1, 1, -2, 'reserve')",
    "INSERT INTO stock_movement (product_id, order_id, quantity, reason)"
    " VALUES (3, 1, -3, 'reserve')",
    "INSERT INTO stock_movement (product_id, order_id, quantity, reason)"
    " VALUES (3, 1, 3, 'release')",
    "INSERT INTO stock_movement (product_id, order_id, quantity, reason)"
    " VALUES (4, 1, 1, 'release')",
    "INSERT INTO stock_movement (product_id, order_id, quantity, reason)"
    " VALUES (4, 1, -1, 'reserve')",
]


def rows(sql: str) -> list[tuple]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_existing_stock_gets_its_opening_balance(app):
    db.session.remove()
    downgrade(app, BEFORE_LEDGER)
    with db.engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))

    upgrade(app, LEDGER)

    assert rows(
        "SELECT product_id, quantity, reason, balance_after FROM stock_movement ORDER BY id"
    ) == [
        (1, -2, "reserve", None),
        (3, -3, "reserve", None),
        (3, 3, "release", None),
        (4, 1, "release", None),
        (4, -1, "reserve", None),
        (1, 10, "opening_balance", 8),
        (2, 4, "opening_balance", 4),
    ]
    assert rows("SELECT sku, stock FROM product ORDER BY id") == [
        ("KET-1", 8),
        ("LAMP-1", 4),
        ("MUG-1", 0),
        ("CUP-1", 0),
    ]
    with app.app_context():
        assert stock.verify(db.session()).mismatches == []
        db.session.remove()
    permissions = dict(rows("SELECT name, permissions FROM role"))
    assert {name for name, granted in permissions.items() if "stock.adjust" in granted} == {
        "admin",
        "manager",
    }
    assert {name for name, granted in permissions.items() if "returns.manage" in granted} == {
        "admin",
        "manager",
        "clerk",
    }

    downgrade(app, BEFORE_LEDGER)
    assert rows("SELECT count(*) FROM stock_movement") == [(5,)]
    assert rows("SELECT sku, stock FROM product WHERE id = 1") == [("KET-1", 8)]
    [(admin,)] = rows("SELECT permissions FROM role WHERE name = 'admin'")
    assert "stock.adjust" not in admin and "returns.manage" not in admin
    upgrade(app)
