"""Alembic owns the schema: head matches the models, and 0002 goes down and up cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from console.extensions import db
from console.schema import downgrade, upgrade


def test_head_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_outbox_revision_downgrades_and_upgrades(app):
    downgrade(app, "0001")
    tables = set(inspect(db.engine).get_table_names())
    assert "outbox_message" not in tables and "stock_movement" not in tables
    assert "sales_order" in tables
    upgrade(app)
    tables = set(inspect(db.engine).get_table_names())
    assert {"outbox_message", "stock_movement"} <= tables
