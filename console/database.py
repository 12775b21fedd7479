"""The database: ``db``, the declarative base, and how a request's session ends.

Everything that decides how the console talks to its database lives here: the naming
convention that gives every constraint a stable name (SQLite's batch migrations find
constraints by name), the SQLite pragmas, the teardown that survives a dead connection,
and the one "commit when the request is done" helper that the sign-in mail and the
security events share. It imports nothing of the console, so every other module may
import it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, after_this_request, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    MetaData,
    Result,
    UpdateBase,
    event,
    make_url,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger("console")

# Stable constraint names, so that migrations can alter and drop them on every backend
# (SQLite's batch mode needs names to find them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model of the console."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# The base class of every model. Flask-SQLAlchemy builds ``db.Model`` when ``db`` is
# created (``Base`` plus its query property and table naming), as an attribute, which no
# type checker accepts as a base class; models inherit from this name, the same class.
if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskSQLAlchemyModel

    class Model(_FlaskSQLAlchemyModel, Base):
        """What ``db.Model`` is at run time, spelled as a class a type checker can use."""

else:
    Model = db.Model


def init_database(app: Flask) -> None:
    """Bind ``db`` to ``app``: SQLite folder and pragmas, and a safe end of each request."""
    ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    close_sessions_safely(app)
    with app.app_context():
        enable_sqlite_foreign_keys(db.engine)


SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another's transaction before "database is locked".

Python's default is 5 s. A shipment holds the write lock while its invoice's PDF is
rendered (the number must stay taken until the commit), so several clerks shipping at
once queue for longer than other writes do."""


def enable_sqlite_foreign_keys(engine: Engine) -> None:
    """Make SQLite enforce foreign keys, which it ignores unless asked on each connection,
    let writers wait ``SQLITE_BUSY_TIMEOUT_MS`` for each other, and keep a database
    file in write-ahead-log mode.

    In SQLite's default mode (a rollback journal) a transaction that writes more than
    its page cache holds (an import of thousands of rows) takes the file's exclusive
    lock before its commit, and every other connection, readers too, waits for it: the
    console's pages hung for as long as an import was applied. With the write-ahead
    log, readers go on reading the last committed state while one writer writes.
    The mode is kept in the file; an in-memory database has no log and stays as it is.
    """
    if engine.dialect.name != "sqlite":
        return
    on_file = engine.url.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if on_file:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite database file (``instance/`` on a fresh clone)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def close_sessions_safely(app: Flask) -> None:
    """Close each request's session so that a dead connection cannot fail the request.

    When the database restarts between a request's last query and its end, the
    ROLLBACK that closing the session sends fails too, and Flask-SQLAlchemy's own
    teardown would raise it after the response was made. This teardown runs first (it
    is registered after Flask-SQLAlchemy's) and drops such a connection instead; the
    pool opens a fresh one (``pool_pre_ping``) for the next request.
    """

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        try:
            db.session.close()
        except DBAPIError:
            log.warning("database connection lost at the end of a request; discarded")
            db.session().invalidate()


_PENDING_COMMIT = "console.commit_at_end"


def commit_at_end_of_request(what: str, *, required: bool = True) -> None:
    """Commit the request's transaction once its view is done; outside a request, now.

    For work that joins whatever the request is doing (a security e-mail, a security
    event): it commits together with the view's own changes, never half of them, and
    a request whose view failed commits nothing. One commit per request however often
    it is asked. ``what`` names the work in the log when the commit fails; the failure
    is raised (the request answers 500 rather than pretend a mail was queued) when any
    caller said the work is ``required``, and only logged otherwise.
    """
    if not has_request_context():
        _commit([what], required)
        return
    pending = request.environ.get(_PENDING_COMMIT)
    if pending is not None:
        pending["what"].append(what)
        pending["required"] = pending["required"] or required
        return
    pending = request.environ[_PENDING_COMMIT] = {"what": [what], "required": required}

    @after_this_request
    def _commit_then_respond(response: Response) -> Response:
        _commit(pending["what"], pending["required"])
        return response


def _commit(what: list[str], required: bool) -> None:
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not commit %s", ", ".join(what))
        if required:
            raise


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` matched.

    The session hands back a ``CursorResult`` for these statements, but its signature
    promises only the general ``Result``, which has no ``rowcount``.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"expected the result of an UPDATE or DELETE, got {type(result)!r}")
    return result.rowcount


def execute_many(
    connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]
) -> CursorResult[Any]:
    """``connection.execute(statement, rows)`` for many rows with the same keys, each
    value converted for the database once per distinct value rather than once per row.

    SQLAlchemy gathers and converts every parameter of every row in Python (on SQLite
    a time becomes text through a formatting call per value): a sixth of the time of
    writing an import's 100,000 products, whose rows share one time stamp. Here the
    statement is compiled once, each parameter's converter is SQLAlchemy's own
    (``TypeEngine.bind_processor`` of its type for this dialect), a value met again in
    the next row (the same object) is not converted again, and the rows go to the
    driver's ``executemany`` as SQLAlchemy would send them (``exec_driver_sql``).
    Other statements (a dialect with named parameters, such as PostgreSQL's, whose
    rows SQLAlchemy batches into multi-row statements itself; a parameter the rows do
    not give, such as a column default to compute) go through ``execute`` unchanged.
    """
    if not rows:
        return connection.execute(statement, [])
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    names = compiled.positiontup
    if not names or not dialect.positional or not set(names) <= set(keys):
        return connection.execute(statement, list(rows))
    converters = [
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    columns: list[list[Any]] = []
    for name, convert in zip(names, converters, strict=True):
        values = [row[name] for row in rows]
        if convert is not None:
            last: Any = object()
            done: Any = None
            for index, value in enumerate(values):
                if value is not last:
                    last, done = value, convert(value)
                values[index] = done
        columns.append(values)
    return connection.exec_driver_sql(str(compiled), list(zip(*columns, strict=True)))
