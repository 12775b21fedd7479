"""CSV export that streams from the database and is safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _rows_then_close(query: Any) -> Iterator[Any]:
    """Yield the query's rows, then give its connection back to the pool.

    The rows are read while the response streams, after the request's own session was
    already closed and removed; the query reopens that session, so it must close it again
    itself or the connection stays checked out.
    """
    try:
        yield from query
    finally:
        query.session.close()


class StreamingExportMixin:
    """Export rows as the database yields them, in batches, with formula cells neutralised.

    Flask-Admin's export loads the whole result into a list before the first byte goes
    out; on a large table that holds every row in memory at once. Its only seam for the
    query is the private ``_export_data``, which this overrides.
    """

    export_batch_size: int = 1000
    """Rows fetched from the database at a time while exporting."""

    def export_query_options(self) -> list:
        """Loader options for the exported query (eager loads for exported relations)."""
        return []

    def _export_data(self):  # type: ignore[override]
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        count, query = self.get_list(
            0,
            sort[0] if sort is not None else None,
            view_args.sort_desc,
            view_args.search,
            view_args.filters,
            execute=False,
            page_size=self.export_max_rows,
        )
        query = query.options(*self.export_query_options()).yield_per(self.export_batch_size)
        return count, _rows_then_close(query)

    def get_export_value(self, model: Any, name: Any) -> Any:
        return neutralise_formula(super().get_export_value(model, name))
