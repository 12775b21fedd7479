"""Alembic environment: metadata and database URL come from the console app.

Run inside an app context (``console.schema.upgrade``, the tests) it uses that app;
run from the command line (``alembic upgrade head``) it builds the app from the
environment, so ``DATABASE_URL`` and ``CONSOLE_CONFIG`` apply.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from flask import current_app, has_app_context

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


def run_migrations_online() -> None:
    app = _app()
    with app.app_context(), db.engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
