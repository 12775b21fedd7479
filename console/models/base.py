"""Column helpers shared by the models."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flask_security import naive_utcnow
from sqlalchemy import Engine, event, func, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> dt.datetime:
    """The current time in UTC, naive, as every timestamp column stores it."""
    return naive_utcnow()


class TimestampMixin:
    """``created_at`` and ``updated_at`` in UTC, kept by the database and the ORM."""

    created_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp(), index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp(), onupdate=utcnow
    )


class VersionedMixin:
    """A row version, bumped by SQLAlchemy on every UPDATE of the row.

    An UPDATE based on a stale version matches no row and fails instead of silently
    overwriting someone else's change.
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:  # noqa: N805 - SQLAlchemy's declared_attr signature
        return {"version_id_col": cls.version}


def enable_sqlite_foreign_keys(engine: Engine) -> None:
    """Make SQLite enforce foreign keys, which it ignores unless asked on each connection."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite database file (``instance/`` on a fresh clone)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def close_sessions_safely(app) -> None:
    """Close each request's session so that a dead connection cannot fail the request.

    When the database restarts between a request's last query and its end, the
    ROLLBACK that closing the session sends fails too, and Flask-SQLAlchemy's own
    teardown would raise it after the response was made. This teardown runs first (it
    is registered after Flask-SQLAlchemy's) and drops such a connection instead; the
    pool opens a fresh one (``pool_pre_ping``) for the next request.
    """
    from console.extensions import db

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        try:
            db.session.close()
        except DBAPIError:
            logging.getLogger("console").warning(
                "database connection lost at the end of a request; discarded"
            )
            db.session().invalidate()
