"""``console.database.execute_many``: the same rows written as ``Connection.execute``
writes them, on SQLite (where it converts the values itself) and PostgreSQL (where it
hands the statement to SQLAlchemy)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update

from console.database import db, execute_many
from console.models import AuditEvent, Product
from tests.factories import ProductFactory

AUDIT = AuditEvent.__table__
PRODUCT = Product.__table__


def audit_rows(tag: str) -> list[dict]:
    """Rows with every kind of value an import writes: one time object shared by several
    rows, equal times in different objects, microseconds, nulls, text, JSON."""
    shared = dt.datetime(2026, 3, 1, 9, 30, 0, 123456)
    equal = dt.datetime(2026, 3, 1, 9, 30, 0, 123456)  # equal to ``shared``, another object
    moments = [shared, shared, dt.datetime(2026, 3, 1, 9, 30), shared, equal]
    return [
        {
            "at": moment,
            "actor_id": n if n % 2 else None,
            "actor_email": f"{tag}-{n}@staff.test",
            "client_addr": None,
            "request_id": "r" * n,
            "action": "create",
            "record_type": "product",
            "record_id": 1000 + n,
            "record_label": f'Käse «{n}», "quoted"',
            "record_version": 1,
            "parent_type": None,
            "parent_id": None,
            "changes": {"unit_price": [None, f"{n}.50"], "name": [None, f"Ü {n}"]},
            "note": None if n == 2 else f"Import #{n}",
        }
        for n, moment in enumerate(moments)
    ]


def written(tag: str) -> list[tuple]:
    columns = [c for c in AUDIT.c if c.key != "id"]
    return [
        tuple(row)[1:]  # without the e-mail's tag
        for row in db.session.execute(
            select(AUDIT.c.actor_email, *columns)
            .where(AUDIT.c.actor_email.like(f"{tag}-%"))
            .order_by(AUDIT.c.id)
        ).all()
    ]


def test_inserts_read_back_as_sqlalchemys_own(app):
    connection = db.session.connection()
    connection.execute(insert(AUDIT), audit_rows("core"))
    execute_many(connection, insert(AUDIT), audit_rows("many"))
    core, many = written("core"), written("many")
    assert len(many) == 5
    normalised = [row[:1] + (row[2].replace("many", "core"),) + row[3:] for row in many]
    assert normalised == [row[:1] + (row[2],) + row[3:] for row in core]
    # Times with their microseconds, each row its own.
    assert [row[0] for row in many] == [
        dt.datetime(2026, 3, 1, 9, 30, 0, 123456),
        dt.datetime(2026, 3, 1, 9, 30, 0, 123456),
        dt.datetime(2026, 3, 1, 9, 30),
        dt.datetime(2026, 3, 1, 9, 30, 0, 123456),
        dt.datetime(2026, 3, 1, 9, 30, 0, 123456),
    ]


def test_updates_count_the_rows_they_matched(app):
    kettle = ProductFactory(sku="KET-1", unit_price=Decimal("39.90"))
    lamp = ProductFactory(sku="LAMP-2", unit_price=Decimal("12.35"))
    db.session.commit()
    at = dt.datetime(2026, 3, 2, 8, 0, 0, 5)
    statement = (
        update(PRODUCT)
        .where(PRODUCT.c.id == bindparam("seen_id"), PRODUCT.c.version == bindparam("seen"))
        .values(
            unit_price=bindparam("new_price"),
            version=bindparam("new_version"),
            updated_at=bindparam("new_at"),
        )
    )
    result = execute_many(
        db.session.connection(),
        statement,
        [
            {"seen_id": kettle.id, "seen": 1, "new_price": Decimal("45.10"), "new_version": 2,
             "new_at": at},
            {"seen_id": lamp.id, "seen": 7, "new_price": Decimal("1.00"), "new_version": 8,
             "new_at": at},
        ],
    )  # fmt: skip
    assert result.rowcount == 1  # the lamp is not at version 7
    db.session.commit()
    rows = db.session.execute(
        select(PRODUCT.c.sku, PRODUCT.c.unit_price, PRODUCT.c.version, PRODUCT.c.updated_at)
        .order_by(PRODUCT.c.sku)
    ).all()  # fmt: skip
    assert [tuple(row[:3]) for row in rows] == [
        ("KET-1", Decimal("45.10"), 2),
        ("LAMP-2", Decimal("12.35"), 1),
    ]
    assert rows[0].updated_at == at


def test_rows_missing_a_column_default_are_handed_to_sqlalchemy(app):
    """A column the rows leave to its default (the event's time) is computed as
    ``Connection.execute`` computes it."""
    rows = audit_rows("defaults")
    for row in rows:
        del row["at"]
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5)
    execute_many(db.session.connection(), insert(AUDIT), rows)
    times = [row[0] for row in written("defaults")]
    assert len(times) == 5 and all(moment > before for moment in times)
