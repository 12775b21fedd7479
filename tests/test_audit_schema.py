"""The audit table comes from its migration, and the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from console.database import db
from console.schema import downgrade, upgrade


def schema_diff() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_autogenerate_finds_no_difference_after_upgrade(app):
    assert schema_diff() == []


def test_audit_revision_downgrades_and_upgrades_cleanly(app):
    downgrade(app, "0002")  # the revision before the audit trail
    db.engine.dispose()
    assert "audit_event" not in inspect(db.engine).get_table_names()
    upgrade(app)
    db.engine.dispose()
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("audit_event")}
    assert {"ix_audit_event_at", "ix_audit_event_record", "ix_audit_event_parent"} <= indexes
    assert schema_diff() == []
