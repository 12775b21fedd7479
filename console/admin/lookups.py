"""Ajax lookups for the record pickers of the forms (customer, product).

Flask-Admin's loader passes the submitted id straight to the database; PostgreSQL then
fails on a value that is not a number. Every primary key of the console is an integer,
so a malformed id simply finds no record and the form says "Not a valid choice".
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from sqlalchemy import or_

from console.database import db
from console.models import Customer
from console.models.customers import search_words
from console.permissions import CUSTOMERS_READ
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


class CustomerLookup(RecordLookup):
    """The customer picker: every word typed must start a word of the customer's
    names or e-mail, accents and case ignored ("marie curie" finds "Marie
    Curie-Skłodowska", "muller" finds "Müller").

    Matches go through ``Customer.search_text``, kept by the model; the first word of
    the stored text is matched through its index.
    """

    def __init__(self, name: str = "customer", **options: Any) -> None:
        options.setdefault("fields", ["email", "last_name", "first_name"])
        options.setdefault("order_by", "email")
        super().__init__(name, Customer, permission=CUSTOMERS_READ, **options)

    def get_list(self, term: str, offset: int | None = 0, limit: int | None = 10) -> Any:
        """One page of matches; ``offset`` and ``limit`` come from the URL, so are bounded."""
        page_size = int(self.options.get("page_size", 10))
        offset = max(offset or 0, 0)
        limit = min(max(limit or page_size, 1), page_size)
        column = self.model.search_text
        query = self.get_query()
        for word in search_words(term):
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.filter(
                or_(
                    column.like(f"{escaped}%", escape="\\"),
                    column.like(f"% {escaped}%", escape="\\"),
                )
            )
        if self.order_by:
            query = query.order_by(self.order_by)
        return query.offset(offset).limit(limit).all()
