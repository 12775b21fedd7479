"""Alembic owns the schema: migrations and models agree, and go down and up cleanly."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import SAWarning

from console.database import db
from console.models import Role
from console.permissions import ROLE_PERMISSIONS
from console.schema import downgrade, upgrade
from tests.fixtures.databases import BACKENDS, fresh_postgres_database


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    """A database with no tables at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        yield from fresh_postgres_database(request.getfixturevalue("postgres"), None)


@pytest.fixture
def empty_app(empty_database_url, make_app):
    return make_app(empty_database_url)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _schema_diff(app) -> list:
    # SQLite's reflection cannot read expression indexes (product's lower(sku)) and both
    # SQLAlchemy and alembic say so; alembic then leaves them out of the comparison on
    # SQLite only. tests/test_sku_case.py checks that index on both backends.
    with warnings.catch_warnings(), app.app_context(), db.engine.connect() as connection:
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings(
            "ignore", "autogenerate skipping metadata-specified expression-based index", UserWarning
        )
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_creates_every_model_table(empty_app):
    assert _tables(empty_app) == set()
    upgrade(empty_app)
    assert _tables(empty_app) == set(db.metadata.tables)


def test_models_and_migrations_agree(empty_app):
    upgrade(empty_app)
    assert _schema_diff(empty_app) == []


def test_default_roles_match_the_permission_matrix(empty_app):
    upgrade(empty_app)
    with empty_app.app_context():
        roles = {r.name: set(r.permissions or []) for r in db.session.scalars(select(Role))}
    assert roles == {name: set(perms) for name, perms in ROLE_PERMISSIONS.items()}


def test_downgrade_to_base_and_upgrade_again(empty_app):
    upgrade(empty_app)
    downgrade(empty_app, "base")
    assert _tables(empty_app) == set()
    upgrade(empty_app)
    assert _tables(empty_app) == set(db.metadata.tables)
    assert _schema_diff(empty_app) == []


def test_audit_revision_downgrades_and_upgrades_cleanly(empty_app):
    """The audit trail's revision removes its table going down and brings back its indexes."""
    upgrade(empty_app)
    downgrade(empty_app, "0002")  # the revision before the audit trail
    assert "audit_event" not in _tables(empty_app)
    upgrade(empty_app)
    with empty_app.app_context():
        indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("audit_event")}
    assert {"ix_audit_event_at", "ix_audit_event_record", "ix_audit_event_parent"} <= indexes
    assert _schema_diff(empty_app) == []


def test_alembic_command_line_uses_database_url(tmp_path, make_app):
    """``alembic upgrade head`` from the repository root builds the configured database."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    target = tmp_path / "cli.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{target}", "CONSOLE_CONFIG": "development", "PATH": ""}
    alembic = shutil.which("alembic", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [alembic, "upgrade", "head"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert _tables(make_app(f"sqlite:///{target}")) == set(db.metadata.tables)


def test_each_revision_downgrades_one_step_and_upgrades(empty_app):
    """Walk down from head one revision at a time, checking each step comes back up."""
    from alembic.script import ScriptDirectory

    from console.schema import alembic_config

    upgrade(empty_app)
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    for revision in revisions:
        downgrade(empty_app, "-1")
        upgrade(empty_app, revision)
        downgrade(empty_app, "-1")
    assert _tables(empty_app) == set()
    upgrade(empty_app)
    assert _schema_diff(empty_app) == []


def test_stored_import_files_survive_0032_down_and_up(empty_app):
    """0032 keeps import files in parts of 256 KB; going down puts each file back in one
    value and coming up splits it again, byte for byte (three parts, the last short)."""
    from sqlalchemy import func, text

    from console.models import ImportBatch, ImportFilePart
    from console.services import imports as import_service
    from tests.factories import StaffFactory

    data = bytes(range(256)) * 2100  # 537,600 bytes: 256 KB, 256 KB and 13,312 bytes
    upgrade(empty_app)
    with empty_app.app_context():
        owner = StaffFactory(email="manager@staff.test", role="manager")
        batch = import_service.store(
            db.session,
            owner,
            "products",
            file_name="catalogue.csv",
            file_format="csv",
            data=data,
            headers=["sku"],
            rows=1,
            mapping={},
        )
        batch_id = batch.id
        db.session.remove()

    downgrade(empty_app, "0031")
    with empty_app.app_context(), db.engine.connect() as connection:
        kept = connection.execute(text("SELECT content FROM import_batch")).scalar_one()
    assert bytes(kept) == data

    upgrade(empty_app)
    with empty_app.app_context():
        parts = db.session.scalar(select(func.count()).select_from(ImportFilePart))
        batch = db.session.get(ImportBatch, batch_id)
        assert parts == 3
        assert import_service.StoredFile(db.session, batch).open().read() == data
        db.session.remove()
