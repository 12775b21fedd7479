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
from sqlalchemy import Select
from sqlalchemy.orm import Session

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


def page(session: Session, query: Select[Any], id_column: Any, args: dict[str, Any]) -> dict:
    """``{"items": [...], "next_cursor": ...}`` of ``query`` after ``args["cursor"]``."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(id_column > decode(args["cursor"]))
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode(rows[-1].id) if more and rows else None}
