"""List exports: CSV, XLSX and JSON Lines, read in batches, inline or as a job.

An export takes a list's current search and filters (the list view builds the query,
exactly as for its page), keeps only the ids that query selects, and reads the rows
of the export's declared columns (``console.jobs.export_specs``) in batches of
``EXPORT_BATCH_SIZE`` ids, in id order, by keyset (``id > last``): memory stays flat
whatever the size, and no OFFSET grows with it.

Up to ``EXPORT_INLINE_MAX_ROWS`` rows, the file streams in the response; above that,
the export becomes a job of kind ``export`` (``console.jobs.kinds``), whose result
file the person downloads from the job's page.

Formats:

- CSV: UTF-8 (with a byte-order mark on request, for Excel), one column per field;
- XLSX: written by xlsxwriter in ``constant_memory`` mode (one row at a time), numbers
  as numbers, times as times; a sheet holds at most 1,048,576 rows, so longer
  exports continue on further sheets;
- JSON Lines: one object per row, keyed by the fields' keys; amounts as strings
  (exact), times in ISO 8601, structured values (audit changes) as they are.

Spreadsheet cells starting like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) are
neutralised with a leading apostrophe (CSV injection); JSON Lines keeps values as
they are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_babel import gettext
from sqlalchemy import CursorResult, Select, func, select
from sqlalchemy.orm import Session

from console import audit
from console.admin.registry import find_view
from console.jobs.export_specs import (
    BOOLEAN,
    DATETIME,
    JSON,
    MONEY,
    NUMBER,
    SPECS,
    TEXT,
    Cents,
    ExportSpec,
    Field,
)
from console.jobs.kinds import JobKind, register
from console.jobs.runner import JobContext, JobOutcome
from console.models import User
from console.models.base import utcnow
from console.services.errors import DomainError

KIND = "export"

_Read = TypeVar("_Read")
_Batch = TypeVar("_Batch", bound=Sized)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

XLSX_MAX_ROWS = 1_048_576
"""Rows of one XLSX worksheet, the header included."""

LIST_ARGUMENTS = ("search", "sort", "desc")
"""The list's query arguments an export keeps, besides its filters (``flt...``)."""


@dataclass(frozen=True)
class ExportFormat:
    name: str
    label: str
    extension: str
    mimetype: str


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "CSV", "csv", "text/csv"),
    "xlsx": ExportFormat(
        "xlsx",
        "XLSX",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "jsonl": ExportFormat("jsonl", "JSON Lines", "jsonl", "application/x-ndjson"),
}


def unknown_format_message(name: str) -> str:
    return gettext(
        "Unknown export format %(name)r: choose CSV, XLSX or JSON Lines.", name=name[:20]
    )


def neutralise_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# --- which rows ---------------------------------------------------------------------------


def list_arguments(args: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The list's own query arguments (search, sort, filters) among ``args``."""
    return [
        [name, value] for name, value in args if name in LIST_ARGUMENTS or name.startswith("flt")
    ]


def filtered_ids(view: Any, spec: ExportSpec, arguments: Any = None) -> Select[Any]:
    """The ids of ``spec.base`` that ``view``'s list shows for this request's arguments.

    The view builds its list query (``get_list``: search, filters, the view's own
    restrictions such as the pending list's status) exactly as for its page; only the
    ids are kept. Call inside a request (or ``test_request_context``) carrying them;
    ``arguments`` are the list's ``ViewArgs`` when the caller has read them already.
    """
    if arguments is None:
        arguments = view._get_list_extra_args()
    sort = view._get_column_by_idx(arguments.sort)
    _count, query = view.get_list(
        0,
        sort[0] if sort is not None else None,
        arguments.sort_desc,
        arguments.search,
        arguments.filters,
        execute=False,
        page_size=0,
    )
    return query.with_entities(spec.base.id).order_by(None).statement


def filtered_ids_for(app: Flask, view: Any, spec: ExportSpec, arguments: Sequence[Sequence[str]]):
    """``filtered_ids`` for stored list arguments, outside the request that gave them."""
    with app.test_request_context("/", query_string=[tuple(pair) for pair in arguments]):
        return filtered_ids(view, spec)


def count_rows(session: Session, spec: ExportSpec, ids: Select[Any], limit: int | None = None):
    """Rows the export writes (up to ``limit`` + 1 when given: enough to decide)."""
    if spec.key().table is spec.base.__table__:
        counted = ids.limit(limit + 1) if limit is not None else ids
    else:
        counted = select(spec.key()).where(spec.key().in_(ids))
        if limit is not None:
            counted = counted.limit(limit + 1)
    return session.scalar(select(func.count()).select_from(counted.subquery())) or 0


def _batch_reads(
    session: Session,
    spec: ExportSpec,
    ids: Select[Any],
    size: int,
    read: Callable[[CursorResult[Any]], _Read | None],
    columns: Sequence[Any],
) -> Iterator[_Read]:
    """Each batch of the export's rows, ``size`` base ids at a time, in id order
    (keyset), as ``read`` takes it from the batch's result of ``columns``.

    Each batch first finds the id ``size`` places on (one index read), then selects the
    rows whose key is among the list's ids in that range: the range is two bound
    values however large the batch, where a list of ids would be thousands.
    """
    id_column = spec.base.id
    last = 0
    while True:
        # Plain Core execution: no ORM row processing for what are only columns.
        connection = session.connection()
        after = ids.where(id_column > last)
        upto = connection.execute(after.order_by(id_column).offset(size - 1).limit(1)).scalar()
        chunk = after if upto is None else after.where(id_column <= upto)
        read_rows = read(
            connection.execute(
                select(*columns)
                .select_from(spec.source())
                .where(spec.key().in_(chunk))
                .order_by(*spec.order())
            )
        )
        # End the read transaction between batches: no snapshot or lock is held for
        # the whole of a long export.
        session.commit()
        if read_rows:
            yield read_rows
        if upto is None:
            return
        last = upto


def batches(
    session: Session, spec: ExportSpec, ids: Select[Any], size: int
) -> Iterator[Sequence[Any]]:
    """The export's rows, ``size`` base ids at a time, in id order (keyset)."""
    columns = [field.column.label(field.key) for field in spec.fields if field.column is not None]
    return _batch_reads(session, spec, ids, size, lambda result: result.all(), columns)


class ColumnBatch:
    """One batch of the export's rows as columns: ``columns[i]`` holds the values of
    the i-th selected field (those with a ``column``), typed as SQLAlchemy types them;
    ``len()`` is its number of rows."""

    __slots__ = ("columns", "rows")

    def __init__(self, columns: list[Sequence[Any]], rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return self.rows


def _csv_read(field: Field) -> Any:
    """The SQL expression CSV reads for ``field``."""
    if field.csv is not None:
        return field.csv.column
    return Cents(field.column) if field.kind == MONEY else field.column


def column_batches(
    session: Session, spec: ExportSpec, ids: Select[Any], size: int
) -> Iterator[ColumnBatch]:
    """``batches``, column by column, for the writers that convert whole columns (CSV);
    amounts as text to the cent.

    The rows are fetched as the database driver gives them and each column that
    SQLAlchemy's type converts (amounts to ``Decimal``, SQLite's times to
    ``datetime``...) is converted with that type's own result processor, a column at
    a time: SQLAlchemy's ``Row`` objects, built and processed cell by cell, cost a
    third of the fetch of a wide export, and a CSV writer needs columns, not rows.
    """
    dialect = session.get_bind().dialect
    # Amounts come as text to the cent, as the CSV writes them (``str`` of the Decimal):
    # written by the database, rather than read as a Decimal to be written back.
    columns = [
        _csv_read(field).label(field.key) for field in spec.fields if field.column is not None
    ]
    types = [column.type for column in columns]
    processors: list[Callable[[Any], Any] | None] | None = None

    def read(result: CursorResult[Any]) -> ColumnBatch | None:
        nonlocal processors
        if processors is None:
            described = result.cursor.description
            processors = [
                type_.dialect_impl(dialect).result_processor(dialect, described[i][1])
                for i, type_ in enumerate(types)
            ]
        raw = result.cursor.fetchall()
        result.close()
        if not raw:
            return None
        columns: list[Sequence[Any]] = list(zip(*raw, strict=True))
        for i, process in enumerate(processors):
            if process is not None:
                columns[i] = list(map(process, columns[i]))
        return ColumnBatch(columns, len(raw))

    return _batch_reads(session, spec, ids, size, read, columns)


# --- how values are written -----------------------------------------------------------------


def _getter(spec: ExportSpec, field: Field, *, structured: bool) -> Callable[[Any], Any]:
    """Reads ``field`` from a row; ``structured`` (JSON Lines) takes the field's
    structured value, or keeps a JSON column as it is."""
    if structured and field.structured is not None:
        return field.structured
    if field.value is not None:
        return field.value
    selected = [f for f in spec.fields if f.column is not None]
    read = itemgetter(next(i for i, f in enumerate(selected) if f is field))
    convert = field.convert
    if convert is None or structured:
        return read
    return lambda row: convert(read(row))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def _money_text(value: Any) -> str:
    return "" if value is None else f"{Decimal(value).quantize(Decimal('0.01'))}"


def _yes_no(value: Any) -> str:
    return "" if value is None else ("Yes" if value else "No")


def _spreadsheet_text(value: Any) -> Any:
    """A text cell: neutralised when a spreadsheet would run it as a formula."""
    if value.__class__ is str and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _yes_no_column(values: Sequence[Any]) -> list[str]:
    return ["" if value is None else ("Yes" if value else "No") for value in values]


# A NUL, then a character a spreadsheet reads as the start of a formula.
_FORMULA_AFTER_NUL = re.compile("\0[" + re.escape("".join(FORMULA_STARTS)) + "]")


def _spreadsheet_text_column(values: Sequence[Any]) -> Sequence[Any]:
    """A column of text cells, neutralised where a spreadsheet would run one as a formula.

    Nearly no cell is formula-like: the column is first joined (NUL before each
    non-empty text) and searched once, in C, and only a column where the search finds
    one is gone through cell by cell. A NUL inside a text can only find a cell that
    needs nothing, never miss one.
    """
    try:
        joined = "\0" + "\0".join(filter(None, values))
    except TypeError:  # not only texts: cell by cell
        return list(map(_spreadsheet_text, values))
    if _FORMULA_AFTER_NUL.search(joined) is None:
        return values
    return list(map(_spreadsheet_text, values))


def _csv_column(
    spec: ExportSpec, field: Field, position: int | None
) -> Callable[[ColumnBatch], Sequence[Any]]:
    """How the CSV writer takes ``field``'s cells from a batch: the csv module writes
    None as empty, numbers, amounts and times with ``str``; text is neutralised,
    yes/no spelt out, computed fields computed."""
    if position is None:
        value = field.value
        assert value is not None
        selected = [f.key for f in spec.fields if f.column is not None]
        # The row as ``value`` reads it (columns named by their keys).
        record_type: Any = namedtuple("record", selected, rename=True)  # type: ignore[misc]  # noqa: PYI024
        record = record_type._make

        def cells(batch: ColumnBatch) -> Sequence[Any]:
            return [value(row) for row in map(record, zip(*batch.columns, strict=True))]

    elif field.csv is not None or field.convert is not None:
        convert = field.csv.finish if field.csv is not None else field.convert
        assert convert is not None

        def cells(batch: ColumnBatch) -> Sequence[Any]:
            return list(map(convert, batch.columns[position]))

    else:

        def cells(batch: ColumnBatch) -> Sequence[Any]:
            return batch.columns[position]

    if field.kind == BOOLEAN:
        return lambda batch: _yes_no_column(cells(batch))
    if field.kind in (TEXT, JSON):
        return lambda batch: _spreadsheet_text_column(cells(batch))
    return cells


def csv_chunks(spec: ExportSpec, batches: Iterable[ColumnBatch], *, bom: bool) -> Iterator[str]:
    """The CSV text: the header, then one chunk per batch of rows (``column_batches``),
    converted column by column (one prepared converter per field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([field.header for field in spec.fields])
    yield ("\ufeff" if bom else "") + buffer.getvalue()
    cells = [
        _csv_column(spec, field, position)
        for field, position in zip(spec.fields, _positions(spec), strict=True)
    ]
    for batch in batches:
        if not batch.rows:
            continue
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(zip(*[column(batch) for column in cells], strict=True))
        yield buffer.getvalue()


def _positions(spec: ExportSpec) -> list[int | None]:
    """Where each field's column is in a row (None: computed)."""
    positions: list[int | None] = []
    selected = 0
    for field in spec.fields:
        if field.column is None:
            positions.append(None)
        else:
            positions.append(selected)
            selected += 1
    return positions


def _json_value(kind: str) -> Callable[[Any], Any]:
    if kind == MONEY:
        return lambda v: None if v is None else _money_text(v)
    if kind == DATETIME:
        return lambda v: None if v is None else v.isoformat()
    if kind == BOOLEAN:
        return lambda v: None if v is None else bool(v)
    return lambda v: v


def jsonl_chunks(spec: ExportSpec, rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The JSON Lines text, one chunk per batch of rows."""
    fields = [
        (field.key, _getter(spec, field, structured=True), _json_value(field.kind))
        for field in spec.fields
    ]
    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    for batch in rows:
        yield "".join(
            encode({key: convert(read(row)) for key, read, convert in fields}) + "\n"
            for row in batch
        )


def write_xlsx(
    path: Path, spec: ExportSpec, rows: Iterable[Sequence[Any]], progress: Callable[[int], None]
) -> int:
    """Write the rows to an XLSX workbook at ``path``, one row at a time; rows written."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "0.00"})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    readers = [_getter(spec, field, structured=False) for field in spec.fields]
    kinds = [field.kind for field in spec.fields]
    headers = [field.header for field in spec.fields]
    sheets = 0
    sheet: Any = None
    line = XLSX_MAX_ROWS
    written = 0
    try:
        for batch in rows:
            for row in batch:
                if line >= XLSX_MAX_ROWS:
                    sheets += 1
                    sheet = workbook.add_worksheet(
                        spec.title if sheets == 1 else f"{spec.title} {sheets}"
                    )
                    sheet.write_row(0, 0, headers, bold)
                    line = 1
                for column, (read, kind) in enumerate(zip(readers, kinds, strict=True)):
                    value = read(row)
                    if value is None:
                        continue
                    if kind == MONEY:
                        sheet.write_number(line, column, float(value), money)
                    elif kind == NUMBER:
                        sheet.write_number(line, column, value)
                    elif kind == DATETIME:
                        sheet.write_datetime(line, column, value, when)
                    elif kind == BOOLEAN:
                        sheet.write_string(line, column, "Yes" if value else "No")
                    else:
                        sheet.write_string(line, column, _text(value))
                line += 1
            written += len(batch)
            progress(written)
        if sheet is None:
            workbook.add_worksheet(spec.title).write_row(0, 0, headers, bold)
    finally:
        workbook.close()
    return written


# --- the audit trail ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """What a person asked to export, as the audit trail records it."""

    view: str
    """The list's endpoint (``order``)."""
    list_title: str
    """The list's name in the menu (``Orders``)."""
    spec: ExportSpec
    export_format: ExportFormat
    bom: bool
    search: str | None
    filters: tuple[str, ...]
    """The list's filters as the person reads them (``Status equals pending``)."""

    @property
    def format_label(self) -> str:
        return "CSV for Excel" if self.bom else self.export_format.label


def record_export(
    session: Session,
    actor: User,
    asked: ExportRequest,
    *,
    rows: int | None = None,
    job: Any = None,
) -> None:
    """Add the audit event of an export to the transaction under way: who (``actor``,
    and the request's address and id), which list and export, its search and filters,
    the format, and the rows written at once or the job that writes them."""
    details: dict[str, Any] = {
        "list": asked.view,
        "export": asked.spec.name,
        "format": asked.format_label,
    }
    if asked.search:
        details["search"] = asked.search
    if asked.filters:
        details["filters"] = "; ".join(asked.filters)
    if job is not None:
        details["job"] = job.id
        outcome = f"in the background as job {job.id}"
    else:
        details["rows"] = rows
        outcome = f"{rows:,} row{'' if rows == 1 else 's'}"
    what = [f"search {asked.search!r}"] if asked.search else []
    what += [f"filters: {details['filters']}"] if asked.filters else []
    scope = f" ({', '.join(what)})" if what else ""
    audit.record(
        session,
        actor,
        audit.EXPORT,
        job,
        {name: (None, value) for name, value in details.items()},
        note=(
            f"Exported {asked.spec.title} ({asked.format_label}) from the "
            f"{asked.list_title} list{scope}: {outcome}."
        ),
        record_type=None if job is not None else "export",
    )


# --- the job ---------------------------------------------------------------------------------


def file_name(spec: ExportSpec, export_format: ExportFormat) -> str:
    """``orders-2026-12-02.csv``: what the download is called."""
    return f"{spec.name.replace('_', '-')}-{utcnow():%Y-%m-%d}.{export_format.extension}"


def resolve(parameters: Mapping[str, Any]) -> tuple[Any, ExportSpec, ExportFormat]:
    """The view, export and format a job's parameters name; ``DomainError`` otherwise."""
    view = find_view(current_app, str(parameters.get("view", "")))
    spec = SPECS.get(str(parameters.get("spec", "")))
    if view is None or spec is None or spec.name not in getattr(view, "export_specs", ()):
        raise DomainError(gettext("This list cannot be exported."))
    export_format = FORMATS.get(str(parameters.get("format", "")))
    if export_format is None:
        raise DomainError(unknown_format_message(str(parameters.get("format", ""))))
    return view, spec, export_format


def export_refusal(owner: User, parameters: Mapping[str, Any]) -> str | None:
    """Why ``owner`` may not run this export (the list's permissions and ``export``)."""
    try:
        view, _spec, _format = resolve(parameters)
    except DomainError as exc:
        return exc.message
    requirement = view.permission_for("export")
    if not owner.active or requirement is None:
        return gettext("Your account may not export this list.")
    missing = [name for name in requirement if not owner.has_permission(name)]
    if missing:
        return gettext(
            "Your role does not allow exporting this list (it needs %(permissions)s).",
            permissions=", ".join(missing),
        )
    return None


def run_export(context: JobContext) -> JobOutcome:
    """The ``export`` job: every row of the list as it was filtered, into a file."""
    parameters = context.parameters
    view, spec, export_format = resolve(parameters)
    session = context.session
    ids = filtered_ids_for(context.app, view, spec, parameters.get("arguments", []))
    total = count_rows(session, spec, ids)
    session.commit()
    context.progress(0, total)
    size = context.app.config["EXPORT_BATCH_SIZE"]
    path = context.partial_path(export_format.extension)
    written = 0

    def counted(chunks: Iterable[_Batch]) -> Iterator[_Batch]:
        nonlocal written
        for batch in chunks:
            yield batch
            written += len(batch)
            context.progress(written, total)

    if export_format.name == "xlsx":
        written = write_xlsx(
            path,
            spec,
            batches(session, spec, ids, size),
            lambda done: context.progress(done, total),
        )
    else:
        chunks = (
            csv_chunks(
                spec,
                counted(column_batches(session, spec, ids, size)),
                bom=bool(parameters.get("bom")),
            )
            if export_format.name == "csv"
            else jsonl_chunks(spec, counted(batches(session, spec, ids, size)))
        )
        with path.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
    return JobOutcome(path=path, name=file_name(spec, export_format), rows=written)


register(JobKind(KIND, run=run_export, refusal=export_refusal))
