"""The address book's migration keeps what was there: free-text addresses and old orders."""

from __future__ import annotations

from alembic.migration import MigrationContext
from sqlalchemy import text

from console.database import db
from console.models import Customer, Order
from console.schema import downgrade, upgrade
from tests.helpers import head_revision, migration, parse, text_of

LEGACY = "12 St James's Square, London"


_, BEFORE_ADDRESS_BOOK = migration("addresses")


def _revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _insert_pre_address_book_data() -> None:
    """A free-text address and an order with a line, as stored before the address book."""
    statements = [
        "INSERT INTO customer (id, first_name, last_name, email, address, search_text) "
        "VALUES (7, 'Ada', 'Lovelace', 'ada@example.com', :legacy, 'ada lovelace')",
        "INSERT INTO product (id, sku, name, unit_price, stock) "
        "VALUES (3, 'KET-1', 'Kettle', 9, 5)",
        "INSERT INTO sales_order (id, number, customer_id, status, total) "
        "VALUES (11, 'SO-000011', 7, 'pending', 18)",
        "INSERT INTO order_line (order_id, product_id, quantity, unit_price) VALUES (11, 3, 2, 9)",
    ]
    with db.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"legacy": LEGACY})


def test_upgrade_keeps_free_text_addresses_and_old_orders(app, client, auth):
    db.session.remove()
    downgrade(app, BEFORE_ADDRESS_BOOK)
    _insert_pre_address_book_data()
    upgrade(app)
    assert _revision() == head_revision()

    customer = db.session.get(Customer, 7)
    assert customer.address == LEGACY
    assert customer.addresses == []
    order = db.session.get(Order, 11)
    assert [(line.product.sku, line.quantity) for line in order.lines] == [("KET-1", 2)]
    assert order.billing_address is None and order.shipping_address is None

    auth.login_as("clerk")
    page = parse(client.get("/admin/customer/edit/?id=7").get_data(as_text=True))
    assert LEGACY in text_of(page.select_one("#legacy-address"))
    details = client.get("/admin/order/details/?id=11").get_data(as_text=True)
    assert details.count("No address recorded") == 2


def test_downgrade_keeps_customers_and_orders(app):
    db.session.remove()
    downgrade(app, BEFORE_ADDRESS_BOOK)
    _insert_pre_address_book_data()
    upgrade(app)
    db.session.remove()
    downgrade(app, BEFORE_ADDRESS_BOOK)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT address FROM customer")).scalar_one() == LEGACY
        assert connection.execute(text("SELECT count(*) FROM order_line")).scalar_one() == 1
    upgrade(app)
