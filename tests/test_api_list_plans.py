"""The API's list filters are answered from indexes, not by reading the table.

Each test sends the API request, takes the page query it ran, and asks the database
how it would run it (``EXPLAIN``). A plan that reads every order of a status and
sorts them, or walks the whole table to find the rows changed since a moment, costs
what the table holds: at 1,000,000 orders a sync's page took 0.4 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from console.database import db
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, api_secret, bearer


@contextmanager
def page_query(table: str) -> Iterator[list[tuple[str, object]]]:
    """Collects the statements (with their parameters) that page through ``table``."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if f"FROM {table}" in statement and "ORDER BY" in statement and "LIMIT" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def plan(statement: str, parameters: object) -> str:
    """How the database would run ``statement``: its plan as one text."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if db.engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # Tables this small fit one page: without this, PostgreSQL reads them whole
        # whatever their indexes, which says nothing of a large table.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}", parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        connection.rollback()
        connection.close()


def api_page_plan(client, url: str, table: str, permission: str) -> str:
    headers = bearer(api_secret([permission]))
    with page_query(table) as seen:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert seen, f"no page query on {table} for {url}"
    return plan(*seen[-1])


@pytest.fixture
def orders():
    customer = CustomerFactory()
    product = ProductFactory(stock=100)
    return [OrderFactory(customer=customer, lines={product: 1}) for _ in range(3)]


def test_a_page_of_one_status_reads_only_the_page(app, client, orders):
    cursor_page = client.get(
        "/api/v1/orders?status=pending&limit=1", headers=bearer(api_secret(["orders.read"]))
    ).get_json()
    assert cursor_page["next_cursor"]
    shown = api_page_plan(
        client,
        f"/api/v1/orders?status=pending&limit=1&cursor={cursor_page['next_cursor']}",
        "sales_order",
        "orders.read",
    )
    assert "ix_sales_order_status_id" in shown, shown
    assert "TEMP B-TREE" not in shown and "Sort" not in shown, shown


@pytest.mark.parametrize(
    ("path", "table", "permission", "index"),
    [
        ("orders", "sales_order", "orders.read", "ix_sales_order_updated_at"),
        ("customers", "customer", "customers.read", "ix_customer_updated_at"),
        ("products", "product", "products.read", "ix_product_updated_at"),
    ],
)
def test_a_sync_reads_the_changed_rows_from_an_index(
    app, client, orders, path, table, permission, index
):
    shown = api_page_plan(
        client, f"/api/v1/{path}?updated_since=2026-01-01T00:00:00Z", table, permission
    )
    assert index in shown, shown
    assert f"SCAN {table}\n" not in shown + "\n" and "Seq Scan" not in shown, shown
