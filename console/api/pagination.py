"""Cursor pagination: each page continues after the last id of the one before.

A keyset (``WHERE id > :last ORDER BY id LIMIT n``) reads only the page's rows from the
primary key, so page 10,000 costs what page 1 does, and rows added meanwhile are
neither skipped nor repeated. The cursor is opaque to clients (base64 of the last id).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from flask import abort
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from console.services.ids import row_id


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    """The id a cursor continues after; 400 for a cursor this API did not give."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    last = row_id(text) if text.isdigit() else None
    if last is None:
        abort(400, "The cursor is not one this API gave; start again without it.")
    return last


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as the naive UTC the database stores (aware times converted)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


class _FewRows(FunctionElement[bool]):
    """A condition that few rows meet, said to SQLite's planner (``likelihood``).

    A page filtered by ``updated_since`` is ``updated_at >= ? ORDER BY id LIMIT n``.
    Without statistics on the range, SQLite walks the primary key in id order and
    tests every row: a sync that asks for the last hour's changes reads the whole
    table (about 0.4 s at 1,000,000 orders). Told that few rows qualify, it reads the
    ``updated_at`` index and sorts what it found. PostgreSQL weighs the range from
    its own statistics: the condition is written plainly there.
    """

    name = "few_rows"
    type = NullType()
    inherit_cache = True


@compiles(_FewRows)
def _few_rows(element: _FewRows, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_FewRows, "sqlite")
def _few_rows_on_sqlite(element: _FewRows, compiler: Any, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.clauses, **kw)}, 0.001)"


def changed_since(column: Any, moment: dt.datetime) -> ColumnElement[bool]:
    """``column >= moment`` (a time kept in naive UTC), for clients syncing the rows
    changed since their last visit: read from ``column``'s index on both databases.

    A first, full sync is meant to page without ``updated_since``: from the epoch,
    every page would read the index whole.
    """
    return _FewRows(column >= naive_utc(moment))


def page(session: Session, query: Select[Any], id_column: Any, args: dict[str, Any]) -> dict:
    """``{"items": [...], "next_cursor": ...}`` of ``query`` after ``args["cursor"]``."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(id_column > decode(args["cursor"]))
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode(rows[-1].id) if more and rows else None}
