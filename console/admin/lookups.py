"""Ajax lookups for the record pickers of the forms (customer, product).

Flask-Admin's loader passes the submitted id straight to the database; PostgreSQL then
fails on a value that is not a number. Every primary key of the console is an integer,
so a malformed id simply finds no record and the form says "Not a valid choice".
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader

from console.database import db

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers: a larger number would make PostgreSQL refuse the query."""


def as_int_id(value: Any) -> int | None:
    """``value`` as a row id, or None when it cannot be one."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


class RecordLookup(QueryAjaxModelLoader):
    """A bounded, searchable lookup of ``model`` rows by the given ``fields``, open to
    holders of ``permission`` (the right to read those records) only."""

    def __init__(self, name: str, model: type, *, permission: str, **options: Any) -> None:
        self.permission = permission
        """The permission to read ``model``'s records, which the look-up lists."""
        options.setdefault("page_size", 10)
        options.setdefault("minimum_input_length", 0)
        super().__init__(name, db, model, **options)

    def get_one(self, pk: Any) -> Any:
        number = as_int_id(pk)
        return None if number is None else super().get_one(number)
