"""Ajax lookups for the record pickers of the forms (customer, product).

Flask-Admin's loader passes the submitted id straight to the database; PostgreSQL then
fails on a value that is not a number. Every primary key of the console is an integer,
so a malformed id simply finds no record and the form says "Not a valid choice".
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader

from console.database import db
from console.services.ids import MAX_ID, row_id

__all__ = ["MAX_ID", "MAX_OFFSET", "RecordLookup", "as_int_id"]

as_int_id = row_id
"""``value`` as a row id, or None when it cannot be one (``console.services.ids``)."""

MAX_OFFSET = MAX_ID
"""Look-up pages start at most this far in: past every row, and within what SQL takes."""


class RecordLookup(QueryAjaxModelLoader):
    """A bounded, searchable lookup of ``model`` rows by the given ``fields``, open to
    holders of ``permission`` (the right to read those records) only."""

    def __init__(self, name: str, model: type, *, permission: str, **options: Any) -> None:
        self.permission = permission
        """The permission to read ``model``'s records, which the look-up lists."""
        options.setdefault("page_size", 10)
        options.setdefault("minimum_input_length", 0)
        super().__init__(name, db, model, **options)

    def get_list(self, term: str, offset: int = 0, limit: int | None = None) -> list:
        """One page of matches: never more than ``page_size``, never before the first row.

        Flask-Admin passes the request's ``offset`` and ``limit`` as given; a negative or
        huge number would reach the database as such.
        """
        page_size = self.options["page_size"]
        offset = min(max(offset or 0, 0), MAX_OFFSET)
        limit = min(max(limit or page_size, 1), page_size)
        return super().get_list(term or "", offset, limit)

    def get_one(self, pk: Any) -> Any:
        number = as_int_id(pk)
        return None if number is None else super().get_one(number)
