"""The number of SQL queries a page issues does not grow with the rows it shows."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from console.database import db
from console.models import Customer, Order, OrderLine, Product
from seeds.bulk import generate_orders


@contextmanager
def counting_queries():
    """Count the statements sent to the database inside the block."""
    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)


def _order_with_lines(n_lines: int) -> Order:
    """An order of the newest customer with ``n_lines`` lines of distinct products."""
    customer = db.session.scalar(select(Customer).order_by(Customer.id.desc()).limit(1))
    products = db.session.scalars(select(Product).limit(n_lines)).all()
    order = Order(number=f"Q-{n_lines}", customer=customer, total=0)
    order.lines = [OrderLine(product=p, quantity=1, unit_price=p.unit_price) for p in products]
    db.session.add(order)
    db.session.commit()
    return order


PAGES = [
    "/admin/order/?page_size=100",
    "/admin/order/?page_size=100&flt0_0=pending",
    "/admin/customer/?page_size=100",
    "/admin/product/?page_size=100",
    "/admin/order/details/?id={order}",
    "/admin/order/edit/?id={order}",
    "/admin/customer/details/?id={customer}",
    "/admin/customer/edit/?id={customer}",
    "/admin/product/details/?id={product}",
    "/admin/product/edit/?id={product}",
]


def _measure(client, order: Order) -> dict[str, int]:
    ids = {"order": order.id, "customer": order.customer_id, "product": order.lines[0].product_id}
    counts = {}
    for page in PAGES:
        url = page.format(**ids)
        client.get(url)  # warm-up: the first request loads the identity and caches
        with counting_queries() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[page] = len(statements)
    return counts


def test_query_count_does_not_grow_with_rows(client, auth):
    auth.login_as("manager")
    generate_orders(3, n_customers=3, n_products=3)
    small = _measure(client, _order_with_lines(1))
    # Enough rows to fill every list page (100 rows) several times over, and an order
    # with many lines for the order's own pages.
    generate_orders(400, n_customers=250, n_products=150)
    large = _measure(client, _order_with_lines(12))
    assert large == small
    # And a small fixed number: no page runs a query per row or per related record.
    assert max(large.values()) <= 12, large
