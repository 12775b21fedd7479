"""Alembic environment: metadata and database URL come from the console app.

Run inside an app context (``console.schema.upgrade``, the tests) it uses that app;
run from the command line (``alembic upgrade head``) it builds the app from the
environment, so ``DATABASE_URL`` and ``CONSOLE_CONFIG`` apply.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from flask import current_app, has_app_context
from sqlalchemy import Connection

from console.database import db

config = context.config
if config.config_file_name is not None and not has_app_context():
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _app():
    if has_app_context():
        return current_app._get_current_object()
    from console import create_app

    return create_app()


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=db.metadata,
        compare_type=True,
        compare_server_default=False,
        render_as_batch=True,  # SQLite alters tables by copying them
        **kwargs,
    )


def run_migrations_offline() -> None:
    app = _app()
    _configure(url=app.config["SQLALCHEMY_DATABASE_URI"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement (only takes effect outside a transaction)."""
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


def _refuse_broken_references(connection: Connection) -> None:
    """Fail (rolling the migration back) if a row now points at a missing row."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:10])
        raise RuntimeError(f"The migration left {len(broken)} broken reference(s): {shown}")


def run_migrations_online() -> None:
    """Run the migrations on the app's database, in one transaction.

    SQLite alters a table by copying it into a new one and dropping the old
    (``render_as_batch``). With foreign keys enforced, dropping ``sales_order`` would
    cascade to its lines; so, as SQLite's documentation prescribes for such changes,
    enforcement is off while migrating, every reference is checked before the commit,
    and enforcement is back on before the connection returns to the pool.
    """
    app = _app()
    with app.app_context(), db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _refuse_broken_references(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
