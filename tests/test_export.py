"""CSV export: permission, formula cells neutralised, orders with lines, empty results."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from console.admin.export import neutralise_formula
from console.database import db
from console.models import Customer, Order, OrderLine, Product
from tests.helpers import export


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ada", "Ada"),
        (Decimal("-5.00"), Decimal("-5.00")),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


def test_customer_export_neutralises_formulas(client, auth):
    db.session.add(
        Customer(
            first_name='=HYPERLINK("http://evil","x")', last_name="@Smith", email="e@example.com"
        )
    )
    db.session.commit()
    auth.login_as("viewer")
    table = rows(export(client, "/admin/customer/export/csv/"))
    header, (row,) = table[0], table[1:]
    record = dict(zip(header, row, strict=True))
    assert record["First name"].startswith("'=HYPERLINK")
    assert record["Last name"] == "'@Smith"


def test_orders_export_with_lines(client, auth):
    customer = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    kettle = Product(sku="KET-1", name="Kettle", unit_price=Decimal("39.90"), stock=9)
    lamp = Product(sku="LAMP-1", name="Lamp", unit_price=Decimal("12.35"), stock=9)
    order = Order(
        number="SO-000001",
        customer=customer,
        total=Decimal("92.15"),
        lines=[
            OrderLine(product=kettle, quantity=2, unit_price=Decimal("39.90")),
            OrderLine(product=lamp, quantity=1, unit_price=Decimal("12.35")),
        ],
    )
    db.session.add(order)
    db.session.commit()
    auth.login_as("manager")
    header, row = rows(export(client, "/admin/order/export/csv/"))
    record = dict(zip(header, row, strict=True))
    assert record["Order"] == "SO-000001"
    assert record["Total"] == "92.15"
    # One column per field: the customer's name and e-mail apart.
    assert (record["Customer name"], record["Customer e-mail"]) == (
        "Ada Lovelace",
        "ada@example.com",
    )
    # One row per line: the same list, its lines.
    header, *lines = rows(export(client, "/admin/order/export/csv/?of=order_lines"))
    assert [
        (r["Order"], r["SKU"], r["Product"], r["Quantity"], r["Unit price"], r["Line total"])
        for r in (dict(zip(header, line, strict=True)) for line in lines)
    ] == [
        ("SO-000001", "KET-1", "Kettle", "2", "39.90", "79.80"),
        ("SO-000001", "LAMP-1", "Lamp", "1", "12.35", "12.35"),
    ]


def test_export_of_an_empty_result_is_a_valid_csv_with_header(client, auth):
    auth.login_as("viewer")
    table = rows(export(client, "/admin/order/export/csv/?search=nobody@example.com"))
    assert len(table) == 1 and "Order" in table[0]


def test_export_follows_the_list_filters(client, auth):
    for i, status in enumerate(["pending", "approved"]):
        customer = Customer(first_name="C", last_name=str(i), email=f"c{i}@example.com")
        product = Product(sku=f"P-{i}", name="P", unit_price=Decimal("1"), stock=1)
        db.session.add(
            Order(
                number=f"SO-00000{i}",
                customer=customer,
                status=status,
                total=Decimal("1"),
                lines=[OrderLine(product=product, quantity=1, unit_price=Decimal("1"))],
            )
        )
    db.session.commit()
    auth.login_as("viewer")
    table = rows(export(client, "/admin/order/export/csv/?flt0_0=approved"))
    assert [r[0] for r in table[1:]] == ["SO-000001"]


def test_a_clerk_cannot_export(client, auth):
    db.session.add(Customer(first_name="A", last_name="B", email="ab@example.com"))
    db.session.commit()
    auth.login_as("clerk")
    response = export(client, "/admin/customer/export/csv/")
    assert response.mimetype != "text/csv"
    assert "ab@example.com" not in response.get_data(as_text=True)


def test_a_streamed_export_gives_its_connection_back(client, auth):
    """The rows are read after the request's session closed; the export must close it again."""
    db.session.add(Customer(first_name="A", last_name="B", email="ab@example.com"))
    db.session.commit()
    auth.login_as("viewer")
    client.get("/admin/customer/")
    before = db.engine.pool.checkedout()
    for _ in range(3):
        rows(export(client, "/admin/customer/export/csv/"))
    assert db.engine.pool.checkedout() == before
