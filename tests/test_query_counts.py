"""The number of SQL queries a page issues does not grow with the rows it shows."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event, select

from console.database import db
from console.models import Customer, Order, OrderLine, OrderStatus, Product
from console.models.staff import SECRET_COLUMNS
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
    """A pending order of the newest customer with ``n_lines`` lines of distinct products."""
    customer = db.session.scalar(select(Customer).order_by(Customer.id.desc()).limit(1))
    products = db.session.scalars(select(Product).limit(n_lines)).all()
    order = Order(number=f"Q-{n_lines}", customer=customer, total=0)
    order.lines = [OrderLine(product=p, quantity=1, unit_price=p.unit_price) for p in products]
    db.session.add(order)
    db.session.commit()
    assert order.status == OrderStatus.PENDING.value  # its edit page shows the form
    return order


LISTS = [
    "/admin/order/?page_size=100",
    "/admin/order/?page_size=100&flt0_0=pending",
    "/admin/order/?page_size=100&page=2",
    "/admin/pending/?page_size=100",
    "/admin/customer/?page_size=100",
    "/admin/product/?page_size=100",
    "/admin/stock/movements/?page_size=100",
]

PAGES = [
    *LISTS,
    "/admin/",
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
    # The order's own pages read the most: lines, notes, invoices, returns, timeline.
    assert max(large.values()) <= 13, large


def test_the_edit_page_reads_the_order_and_its_lines_once(client, auth):
    auth.login_as("manager")
    generate_orders(3, n_customers=3, n_products=5)
    order = _order_with_lines(4)
    url = f"/admin/order/edit/?id={order.id}"
    client.get(url)
    with counting_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200
    assert b'name="lines-0-quantity"' in response.data  # the form, not the "pending only" notice
    assert sum(bool(re.search(r"\bFROM sales_order\b", s)) for s in statements) == 1, statements
    assert sum(bool(re.search(r"\bFROM order_line\b", s)) for s in statements) == 1, statements


def _identity_query(statement: str) -> bool:
    """The signed-in person's own record, loaded by Flask-Security for each request."""
    return "WHERE staff_user.fs_uniquifier =" in statement


def test_lists_read_no_secret_of_the_staff(client, auth):
    """A list shows who took an order or moved stock by e-mail: the join reads the
    person's id and e-mail only, never a password hash, authenticator secret, recovery
    code, nor the token that identifies the person's sessions."""
    auth.login_as("manager")
    generate_orders(20, n_customers=5, n_products=5)
    _order_with_lines(2)
    for url in LISTS:
        client.get(url)
        with counting_queries() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        for statement in statements:
            for column in SECRET_COLUMNS:
                assert f".{column}" not in statement, (url, statement)
            if not _identity_query(statement):
                assert ".fs_uniquifier" not in statement, (url, statement)
    taker = db.session.scalar(select(Order).where(Order.created_by_id.is_not(None)).limit(1))
    page = client.get("/admin/order/?page_size=100").get_data(as_text=True)
    assert taker.created_by.email in page  # "Taken by" still shows the e-mail
