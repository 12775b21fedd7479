"""CSV lines written by the database: the same file as the csv module's, byte for byte.

Where an export's every column can be written by the database (``_line_cells``), each
line is written by SQLite's ``printf`` or PostgreSQL's ``format``, and only the rows that
need quoting, or that the database cannot write exactly, are written by the csv module.
These tests fill the exported tables with the texts that make a CSV line hard (commas,
quotes, line breaks, formula-like starts, a NUL on SQLite, the record separator between
the database's lines, non-Latin letters) and times with and without microseconds, then
compare the database's file with the csv module's, on small batches and with two
readers, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from sqlalchemy import String, insert, select, text, update

from console.database import db
from console.jobs import exports
from console.jobs.export_specs import SPECS
from console.models import Customer, Order, OrderTaxLine, Product, StockMovement
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

WRITABLE = [
    "plain",
    "=1+2",
    "+33 6 12 34 56",
    "-minus",
    "@sum",
    "\ttab",
    "Müller € 🙂",
    "",
    "  spaced  ",
    "ok; fine",
]
"""Texts the database writes in its lines (neutralised where they start like formulas)."""

QUOTED = ["a,b", 'say "hi"', "two\nlines", "carriage\rreturn", "record\x1eseparator"]
"""Texts whose rows the csv module writes: quoted, or holding the separator of the
database's lines."""

AWKWARD = WRITABLE + QUOTED

NUL = "nul\x00inside"
"""SQLite keeps it (and its printf would end the text there); PostgreSQL refuses it."""

DATABASE_WRITTEN = ("orders", "customers", "products", "stock_movements")


def unquoted_texts() -> list[str]:
    """``WRITABLE``, and on SQLite a text holding a NUL: nothing in it is quoted, but the
    database cannot write it (its row goes to the csv module)."""
    if db.engine.dialect.name == "sqlite":
        return [*WRITABLE, NUL]
    return WRITABLE


def scramble(model, names: list[str], *, unique: tuple[str, ...] = ()) -> None:
    """Give the rows of ``model`` awkward texts in ``names`` (cycling through them, each
    column from another start; a unique column keeps a suffix of the row's id), cut to
    each column's length: every third row gets every kind of text, the others none
    that the csv module quotes."""
    unquoted = unquoted_texts()
    every_kind = [*unquoted, *QUOTED]
    ids = db.session.scalars(select(model.id).order_by(model.id)).all()
    for i, row_id in enumerate(ids):
        texts = every_kind if i % 3 == 0 else unquoted
        values = {}
        for k, name in enumerate(names):
            column = model.__table__.c[name]
            value = texts[(i // 3 + i % 3 + k) % len(texts)]
            if name in unique:
                value = f"{value}{row_id}"
            length = column.type.length if isinstance(column.type, String) else None
            values[name] = value[:length] if length else value
        db.session.execute(update(model).where(model.id == row_id).values(**values))
    db.session.commit()


def fill_the_shop() -> None:
    """Customers, products, orders (one with tax lines whose names start like formulas)
    and stock movements (some negative), with awkward texts and mixed times."""
    products = [
        ProductFactory(sku=f"SKU-{i}", unit_price=Decimal("9.99"), stock=50) for i in range(6)
    ]
    customers = [CustomerFactory(email=f"c{i}@example.com") for i in range(3 * len(AWKWARD))]
    for i in range(20):
        OrderFactory(customer=customers[i % len(customers)], lines={products[i % 6]: 1 + i % 3})
    # Half the products no longer sold (after their orders were taken).
    db.session.execute(
        update(Product).where(Product.id.in_([p.id for p in products[::2]])).values(active=False)
    )
    db.session.execute(
        insert(StockMovement),
        [
            {
                "product_id": product.id,
                "quantity": -(i + 1),
                "reason": "damaged",
                "note": "broken",
                "balance_after": 49 - i,
                "created_at": dt.datetime(2026, 2, 3, 4, 5, 6, i),
            }
            for i, product in enumerate(products)
        ],
    )
    db.session.commit()

    scramble(
        Customer,
        ["first_name", "last_name", "email", "phone", "address", "notes"],
        unique=("email",),
    )
    scramble(Product, ["sku", "name", "description"], unique=("sku",))
    address_parts = [
        c.name
        for c in Order.__table__.columns
        if c.name.startswith(("billing_", "shipping_"))
        and isinstance(c.type, String)
        and c.name != "shipping_method_name"
        and not c.name.endswith("_country")  # two letters, checked by the database
    ]
    scramble(
        Order,
        [
            "coupon_code",
            "shipping_method_name",
            "rejection_reason",
            "tracking_number",
            *address_parts,
        ],
    )
    scramble(StockMovement, ["note"])

    # Tax lines: formula-like names, a quote, a comma, and an order with none.
    order_ids = db.session.scalars(select(Order.id).order_by(Order.id)).all()
    db.session.execute(
        update(OrderTaxLine)
        .where(OrderTaxLine.order_id == order_ids[0])
        .values(name="=HYPERLINK()")
    )
    db.session.execute(
        update(OrderTaxLine)
        .where(OrderTaxLine.order_id == order_ids[1])
        .values(name='Tax "A", reduced')
    )
    db.session.execute(
        update(OrderTaxLine).where(OrderTaxLine.order_id == order_ids[2]).values(name="-minus")
    )
    db.session.execute(
        insert(OrderTaxLine),
        [
            {
                "order_id": order_ids[2],
                "rate": Decimal("99.50"),
                "name": "Last, highest",
                "base": Decimal("1.00"),
                "tax": Decimal("0.99"),
            }
        ],
    )
    db.session.execute(OrderTaxLine.__table__.delete().where(OrderTaxLine.order_id == order_ids[3]))

    # Times with and without microseconds.
    for i, order_id in enumerate(order_ids):
        moment = dt.datetime(2026, 3, 1 + i % 28, 10, 11, 12, 0 if i % 2 else 345678)
        db.session.execute(
            update(Order).where(Order.id == order_id).values(created_at=moment, placed_at=moment)
        )
    if db.engine.dialect.name == "sqlite":
        # A time kept in another form than SQLAlchemy's (written by hand): the database
        # does not guess it; the csv module writes that row as SQLAlchemy reads it.
        db.session.execute(
            text("UPDATE sales_order SET delivered_at = '2026-04-05T06:07:08' WHERE id = :id"),
            {"id": order_ids[4]},
        )
    db.session.commit()


def exported(spec_name: str, *, by_database: bool, readers: int = 1, size: int = 3) -> str:
    spec = SPECS[spec_name]
    ids = select(spec.base.id)
    batches = exports.csv_batches(db.session(), spec, ids, size, readers, by_database=by_database)
    return "".join(exports.csv_chunks(spec, batches, bom=False))


@pytest.mark.parametrize("spec_name", DATABASE_WRITTEN)
def test_the_database_writes_the_csv_modules_file(app, spec_name):
    fill_the_shop()
    assert exports._line_cells(SPECS[spec_name]) is not None
    by_csv = exported(spec_name, by_database=False)
    rows = list(csv.reader(io.StringIO(by_csv, newline="")))
    assert len(rows) > 6
    for readers, size in ((1, 3), (2, 3), (1, 2000), (2, 1)):
        assert exported(spec_name, by_database=True, readers=readers, size=size) == by_csv, (
            readers,
            size,
        )


def test_the_awkward_cells_read_back_as_entered(app):
    """The database's file, read by the csv module: quoted texts come back whole, and
    formula-like ones with their apostrophe."""
    fill_the_shop()
    rows = list(csv.DictReader(io.StringIO(exported("customers", by_database=True), newline="")))
    stored = db.session.execute(
        select(Customer.first_name, Customer.last_name).order_by(Customer.id)
    ).all()
    starts = ("=", "+", "-", "@", "\t", "\r")

    def written(value: str) -> str:
        return "'" + value if value.startswith(starts) else value

    assert [(r["First name"], r["Last name"]) for r in rows] == [
        (written(first), written(last)) for first, last in stored
    ]
    cells = {cell for row in rows for cell in row.values()}
    assert {"a,b", 'say "hi"', "two\nlines", "Müller € 🙂", "'=1+2", "'\ttab"} <= cells
    orders = list(csv.DictReader(io.StringIO(exported("orders", by_database=True), newline="")))
    taxes = [r["Tax by rate"] for r in orders]
    assert taxes[0].startswith("'=HYPERLINK() ")
    assert taxes[1].startswith('Tax "A", reduced ')
    assert taxes[2].startswith("'-minus ")
    assert taxes[2].endswith("; Last, highest 99.50%: 0.99")
    assert taxes[3] == ""
    created = [r["Created (UTC)"] for r in orders]
    assert created[0] == "2026-03-01 10:11:12.345678"
    assert created[1] == "2026-03-02 10:11:12"


def test_a_stopped_export_leaves_no_reader_behind(app):
    """Taking fewer batches than there are (a cancelled job): the readers are stopped
    and gone once the batches are closed."""
    fill_the_shop()
    spec = SPECS["orders"]
    batches = exports.csv_batches(db.session(), spec, select(spec.base.id), 2, 2)
    first = next(batches)
    assert len(first) == 2
    assert any(t.name.startswith("export-reader") for t in threading.enumerate())
    batches.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("export-reader")]
