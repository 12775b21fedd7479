"""Orders priced before their shipping method's name was kept get the name it has now."""

from __future__ import annotations

from sqlalchemy import text

from console.database import db
from console.models import Order
from console.schema import downgrade, upgrade
from tests.helpers import migration

_, BEFORE = migration("order_shipping_method_name")


def test_upgrade_gives_old_orders_their_method_name_and_downgrade_keeps_them(app):
    db.session.remove()
    downgrade(app, BEFORE)
    with db.engine.begin() as connection:
        for statement in (
            "INSERT INTO customer (id, first_name, last_name, email, search_text) "
            "VALUES (7, 'Ada', 'Lovelace', 'ada@example.com', 'ada lovelace')",
            "INSERT INTO shipping_method (id, name, price, active) VALUES (2, 'Courier', 12, true)",
            "INSERT INTO sales_order (id, number, customer_id, status, total, "
            "shipping_method_id, shipping_total) "
            "VALUES (11, 'SO-000011', 7, 'pending', 12, 2, 12)",
            "INSERT INTO sales_order (id, number, customer_id, status, total) "
            "VALUES (12, 'SO-000012', 7, 'pending', 0)",
        ):
            connection.execute(text(statement))
    upgrade(app)

    assert db.session.get(Order, 11).shipping_method_name == "Courier"
    assert db.session.get(Order, 12).shipping_method_name is None
    db.session.remove()
    downgrade(app, BEFORE)
    with db.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM sales_order")).scalar_one()
    assert count == 2
    upgrade(app)
