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
import threading
from bisect import bisect_right
from collections import deque, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_babel import gettext
from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

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
    Neutralised,
    Printed,
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

JOB_READERS = 2
"""Threads reading an export job's batches side by side (``_batch_reads``): the
database's work on one batch overlaps another's, and the writing of the file. The
console's machines have two cores or more; an export in a request reads with one."""

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
    make_read: Callable[[], Callable[[Connection, CursorResult[Any]], _Read | None]],
    columns: Sequence[Any],
    readers: int = 1,
    shape: Callable[[Select[Any]], Select[Any]] | None = None,
) -> Iterator[_Read]:
    """Each batch of the export's rows, ``size`` base ids at a time, in id order
    (keyset), as a ``read`` (made by ``make_read``) takes it from the batch's result
    of ``columns`` (on the connection given, in the batch's transaction).

    Each batch first finds the id ``size`` places on (one index read), then selects the
    rows whose key is among the list's ids in that range: the range is two bound
    values however large the batch, where a list of ids would be thousands.

    With ``readers`` above one, the batches are read by that many threads at once, each
    with its own connection and its own ``read``, and given in order: reading a batch
    is mostly the database's own work (on SQLite, writing the CSV lines), which runs
    without Python's global lock, so on a machine with several cores the batches are
    read side by side. At most ``readers`` + 1 batches are held at a time.

    ``shape`` makes the statement read from the batch's select of ``columns``.
    """
    ranges = _ranges(session, spec, ids, size)
    if readers <= 1:
        read = make_read()
        for last, upto in ranges:
            connection = session.connection()
            result = _range_result(connection, spec, ids, columns, last, upto, shape)
            rows = read(connection, result)
            # End the read transaction between batches: no snapshot or lock is held for
            # the whole of a long export.
            session.commit()
            if rows:
                yield rows
        return
    engine = session.get_bind().engine
    local = threading.local()

    def read_range(last: int, upto: int | None) -> _Read | None:
        if not hasattr(local, "read"):
            local.read = make_read()
        with engine.connect() as connection, connection.begin():
            result = _range_result(connection, spec, ids, columns, last, upto, shape)
            return local.read(connection, result)

    pool = ThreadPoolExecutor(readers, thread_name_prefix="export-reader")
    pending: deque[Future[_Read | None]] = deque()
    try:
        for last, upto in ranges:
            pending.append(pool.submit(read_range, last, upto))
            if len(pending) > readers:
                rows = pending.popleft().result()
                if rows:
                    yield rows
        while pending:
            rows = pending.popleft().result()
            if rows:
                yield rows
    finally:
        # Stopped early (a cancelled job, a failed write): the batches not yet begun
        # are dropped, those being read are waited for.
        pool.shutdown(wait=True, cancel_futures=True)


def _ranges(
    session: Session, spec: ExportSpec, ids: Select[Any], size: int
) -> Iterator[tuple[int, int | None]]:
    """The id ranges (after ``last``, up to ``upto`` or to the end) of the batches."""
    id_column = spec.base.id
    last = 0
    while True:
        after = ids.where(id_column > last)
        upto = (
            session.connection()
            .execute(after.order_by(id_column).offset(size - 1).limit(1))
            .scalar()
        )
        session.commit()
        yield last, upto
        if upto is None:
            return
        last = upto


def _range_result(
    connection: Connection,
    spec: ExportSpec,
    ids: Select[Any],
    columns: Sequence[Any],
    last: int,
    upto: int | None,
    shape: Callable[[Select[Any]], Select[Any]] | None = None,
) -> CursorResult[Any]:
    """The result of ``columns`` for the rows of the list's ids in one range (or of
    ``shape`` of that select)."""
    id_column = spec.base.id
    chunk = ids.where(id_column > last)
    if upto is not None:
        chunk = chunk.where(id_column <= upto)
    statement = (
        select(*columns)
        .select_from(spec.source())
        .where(spec.key().in_(chunk))
        .order_by(*spec.order())
    )
    # Plain Core execution: no ORM row processing for what are only columns.
    return connection.execute(statement if shape is None else shape(statement))


def batches(
    session: Session, spec: ExportSpec, ids: Select[Any], size: int, readers: int = 1
) -> Iterator[Sequence[Any]]:
    """The export's rows, ``size`` base ids at a time, in id order (keyset)."""
    columns = [field.column.label(field.key) for field in spec.fields if field.column is not None]

    def read(_connection: Connection, result: CursorResult[Any]) -> Sequence[Any]:
        return result.all()

    return _batch_reads(session, spec, ids, size, lambda: read, columns, readers)


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
        return field.csv
    return Cents(field.column) if field.kind == MONEY else field.column


def _csv_columns(spec: ExportSpec) -> list[Any]:
    """The columns CSV reads (amounts as text to the cent), labelled by their keys."""
    return [_csv_read(field).label(field.key) for field in spec.fields if field.column is not None]


class _ColumnReader:
    """Reads a result of ``columns`` as a ``ColumnBatch``.

    The rows are fetched as the database driver gives them and each column that
    SQLAlchemy's type converts (amounts to ``Decimal``, SQLite's times to
    ``datetime``...) is converted with that type's own result processor, a column at
    a time: SQLAlchemy's ``Row`` objects, built and processed cell by cell, cost a
    third of the fetch of a wide export, and a CSV writer needs columns, not rows.
    """

    def __init__(self, dialect: Dialect, columns: Sequence[Any]) -> None:
        self.dialect = dialect
        self.types = [column.type for column in columns]
        self.processors: list[Callable[[Any], Any] | None] | None = None

    def __call__(self, result: CursorResult[Any]) -> ColumnBatch | None:
        if self.processors is None:
            described = result.cursor.description
            self.processors = [
                type_.dialect_impl(self.dialect).result_processor(self.dialect, described[i][1])
                for i, type_ in enumerate(self.types)
            ]
        raw = result.cursor.fetchall()
        result.close()
        if not raw:
            return None
        columns: list[Sequence[Any]] = list(zip(*raw, strict=True))
        for i, process in enumerate(self.processors):
            if process is not None:
                columns[i] = list(map(process, columns[i]))
        return ColumnBatch(columns, len(raw))


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

    elif field.csv is None and field.convert is not None:
        convert = field.convert

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


class TextBatch:
    """One batch of the export's rows as CSV text; ``len()`` is its number of rows."""

    __slots__ = ("rows", "text")

    def __init__(self, text: str, rows: int) -> None:
        self.text = text
        self.rows = rows

    def __len__(self) -> int:
        return self.rows


class _CsvWriter:
    """Writes ``ColumnBatch``es as CSV text with the csv module, a column at a time
    (one prepared converter per field)."""

    def __init__(self, spec: ExportSpec) -> None:
        self.cells = [
            _csv_column(spec, field, position)
            for field, position in zip(spec.fields, _positions(spec), strict=True)
        ]
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def _rows(self, batch: ColumnBatch) -> Iterator[tuple[Any, ...]]:
        return zip(*[column(batch) for column in self.cells], strict=True)

    def text(self, batch: ColumnBatch) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerows(self._rows(batch))
        return self.buffer.getvalue()

    def lines(self, batch: ColumnBatch) -> list[str]:
        """Each row's text apart (line break included)."""
        lines = []
        for row in self._rows(batch):
            self.buffer.seek(0)
            self.buffer.truncate()
            self.writer.writerow(row)
            lines.append(self.buffer.getvalue())
        return lines


def csv_header(spec: ExportSpec, *, bom: bool) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([field.header for field in spec.fields])
    return ("\ufeff" if bom else "") + buffer.getvalue()


def csv_chunks(spec: ExportSpec, batches: Iterable[TextBatch], *, bom: bool) -> Iterator[str]:
    """The CSV text: the header, then one chunk per batch of rows (``csv_batches``)."""
    yield csv_header(spec, bom=bom)
    for batch in batches:
        yield batch.text


def csv_batches(
    session: Session,
    spec: ExportSpec,
    ids: Select[Any],
    size: int,
    readers: int = 1,
    *,
    by_database: bool = True,
) -> Iterator[TextBatch]:
    """The export's rows as CSV text, ``size`` base ids at a time, in id order.

    Where the database can write the export's rows (``_line_cells``), it does, a whole
    line at a time, and the csv module writes only the rows that need more than
    joining their cells with commas; elsewhere (or with ``by_database`` false) every
    row is read column by column and written by the csv module. Each reader (see
    ``_batch_reads``) has its own writer.
    """
    dialect = session.get_bind().dialect
    cells = _line_cells(spec) if by_database else None
    if cells is None:
        columns = _csv_columns(spec)

        def make_read() -> Callable[[Connection, CursorResult[Any]], TextBatch | None]:
            read = _ColumnReader(dialect, columns)
            writer = _CsvWriter(spec)

            def text(_connection: Connection, result: CursorResult[Any]) -> TextBatch | None:
                batch = read(result)
                return None if batch is None else TextBatch(writer.text(batch), len(batch))

            return text

        return _batch_reads(session, spec, ids, size, make_read, columns, readers)
    return _batch_reads(
        session,
        spec,
        ids,
        size,
        lambda: _LineReader(dialect, spec, len(cells)),
        [spec.key().label("key"), _Line(*cells).label("line")],
        readers,
        partial(_whole_batch, dialect),
    )


# --- rows written by the database -----------------------------------------------------------
#
# A CSV line is its cells joined by commas whenever no cell needs quoting (a comma, a
# double quote, a line break): then the database can write the whole line, in C, its
# text cells neutralised (an apostrophe before a formula-like start), and Python reads
# one text per row instead of forty values to convert and hand to the csv module.
# Every line the database writes is checked for those characters (a few searches of
# the batch's text, in C), and the rows whose line has one, or whose line the
# database could not write exactly (its cell holds a double quote then, to fail the
# check), are read again column by column and written by the csv module: the file is
# the one the csv module writes.


class _Line(FunctionElement[str]):
    """The row's cells, as text, joined by commas (NULL as empty)."""

    type = String()
    name = "csv_line"
    inherit_cache = True


@compiles(_Line)
def _line(element: _Line, compiler: Any, **kw: Any) -> str:
    # PostgreSQL's format(), whose %s writes NULL as empty; chr(37) is "%", which the
    # driver's parameter style would read in the statement. The format is a constant:
    # the planner computes it once.
    count = len(element.clauses)
    return (
        f"format(rtrim(repeat(chr(37) || 's,', {count}), ','), "
        f"{compiler.process(element.clauses, **kw)})"
    )


@compiles(_Line, "sqlite")
def _line_by_sqlite(element: _Line, compiler: Any, **kw: Any) -> str:
    # SQLite's printf(), whose %s writes NULL as empty.
    template = ",".join(["%s"] * len(element.clauses))
    return f"printf('{template}', {compiler.process(element.clauses, **kw)})"


class _LineText(Printed):
    """A text cell as the database writes it into a line: neutralised (an apostrophe
    before a formula-like start, ``Neutralised``) as the csv module's is. SQLite's
    printf ends a text at a NUL character, so a text holding one is replaced by a
    double quote: the row is then written by the csv module."""

    name = "csv_line_text"
    inherit_cache = True
    sqlite = "CASE WHEN instr({0}, char(0)) THEN '\"' ELSE " + Neutralised.sqlite + " END"
    postgresql = Neutralised.postgresql  # PostgreSQL's text holds no NUL


class _LineMoment(Printed):
    """A time as ``str`` writes the ``datetime`` SQLAlchemy reads (``2026-12-02
    10:00:00``, microseconds only when there are some), or a double quote for what
    SQLite keeps in another form than SQLAlchemy's (the csv module writes that row)."""

    name = "csv_line_moment"
    inherit_cache = True
    sqlite = (
        "CASE WHEN {0} IS NULL THEN NULL"
        " WHEN substr({0}, 11, 1) <> ' ' THEN '\"'"
        " WHEN length({0}) = 19 THEN {0}"
        " WHEN length({0}) <> 26 OR substr({0}, 20, 1) <> '.' THEN '\"'"
        " WHEN substr({0}, 21) = '000000' THEN substr({0}, 1, 19)"
        " ELSE {0} END"
    )
    postgresql = (
        "CASE WHEN {0} = date_trunc('second', {0}) THEN to_char({0}, 'YYYY-MM-DD HH24:MI:SS')"
        " ELSE to_char({0}, 'YYYY-MM-DD HH24:MI:SS.US') END"
    )


def _line_cells(spec: ExportSpec) -> list[Any] | None:
    """The SQL of each cell of ``spec``'s CSV line, or None when the database cannot
    write its rows: a field computed in Python, or rows that are not one per base id."""
    if spec.key() is not spec.base.id:
        return None
    cells: list[Any] = []
    for field in spec.fields:
        if field.column is None:
            return None
        if field.csv is not None:
            cells.append(field.csv)
        elif field.convert is not None:
            return None
        elif field.kind == TEXT:
            cells.append(_LineText(field.column))
        elif field.kind == MONEY:
            cells.append(Cents(field.column))
        elif field.kind == NUMBER:
            cells.append(field.column)
        elif field.kind == BOOLEAN:
            cells.append(case((field.column.is_(None), null()), (field.column, "Yes"), else_="No"))
        elif field.kind == DATETIME:
            cells.append(_LineMoment(field.column))
        else:
            return None
    return cells


_ROW = "\x1e"
"""Between two lines of a batch the database writes (the record separator)."""

# What a line the database wrote must not hold: a double quote, a carriage return or a
# line feed (a cell to quote, or one the database could not write). Its text cells
# come neutralised.
_SUSPECT = ('"', "\r", "\n")


def _whole_batch(dialect: Dialect, lines: Select[Any]) -> Select[Any]:
    """The batch's lines (``lines``: key, line) as one row: the lines joined by
    ``_ROW``, the keys by commas, both in the lines' order. One row a batch: the
    database writes the whole batch in one step, during which Python's global lock is
    free (a row at a time, the lock would change hands at every row)."""
    rows = lines.subquery("lines")
    key = cast(rows.c.key, String)
    if dialect.name == "postgresql":
        return select(
            func.string_agg(rows.c.line, aggregate_order_by(literal(_ROW), rows.c.key)),
            func.string_agg(key, aggregate_order_by(literal(","), rows.c.key)),
        )
    # SQLite aggregates the rows of an ordered subquery in their order (it does not
    # flatten an ordered subquery into an aggregate).
    return select(func.group_concat(rows.c.line, _ROW), func.group_concat(key, ","))


def _suspects(text: str, lines: Sequence[str], commas: int) -> set[int]:
    """The lines of ``text`` (``lines`` joined by ``_ROW``) that may not be their
    row's CSV: each holds a character that the csv module quotes, or another number
    of commas than ``commas`` (a cell holding one). Searched with ``str``'s own
    methods over the whole text, in C; most batches hold none."""
    positions = []
    for needle in _SUSPECT:
        found = text.find(needle)
        while found >= 0:
            positions.append(found)
            found = text.find(needle, found + 1)
    suspects: set[int] = set()
    if positions:
        starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
        suspects.update(bisect_right(starts, position) - 1 for position in positions)
    if text.count(",") != commas * len(lines):
        suspects.update(i for i, line in enumerate(lines) if line.count(",") != commas)
    return suspects


class _LineReader:
    """Reads a batch's lines (``_whole_batch``) as a ``TextBatch``: the database's
    lines where they are the rows' CSV, the csv module's for the others."""

    def __init__(self, dialect: Dialect, spec: ExportSpec, cells: int) -> None:
        self.spec = spec
        self.commas = cells - 1
        self.columns = [*_csv_columns(spec), spec.key()]
        self.read = _ColumnReader(dialect, self.columns)
        self.writer = _CsvWriter(spec)

    def __call__(self, connection: Connection, result: CursorResult[Any]) -> TextBatch | None:
        row: Any = result.one()
        text, joined_keys = row[0], row[1]
        if text is None:
            return None
        keys = [int(key) for key in joined_keys.split(",")]
        lines = text.split(_ROW)
        if len(lines) != len(keys):
            # A text holding the separator itself: every row by the csv module.
            written = self._written(connection, keys)
            return TextBatch("".join(written[key] for key in keys if key in written), len(written))
        suspects = _suspects(text, lines, self.commas)
        if not suspects:
            return TextBatch(text.replace(_ROW, "\r\n") + "\r\n", len(lines))
        written = self._written(connection, [keys[i] for i in suspects])
        out = [
            written.get(key, "") if i in suspects else line + "\r\n"
            for i, (key, line) in enumerate(zip(keys, lines, strict=True))
        ]
        return TextBatch("".join(out), len(lines) - len(suspects) + len(written))

    def _written(self, connection: Connection, keys: list[Any]) -> dict[Any, str]:
        """The csv module's lines of the rows of ``keys``, read again column by column
        (a row gone since is left out)."""
        batch = self.read(
            connection.execute(
                select(*self.columns)
                .select_from(self.spec.source())
                .where(self.spec.key().in_(keys))
                .order_by(*self.spec.order())
            )
        )
        if batch is None:
            return {}
        found = batch.columns.pop()
        return dict(zip(found, self.writer.lines(batch), strict=True))


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
            batches(session, spec, ids, size, JOB_READERS),
            lambda done: context.progress(done, total),
        )
    else:
        chunks = (
            csv_chunks(
                spec,
                counted(csv_batches(session, spec, ids, size, JOB_READERS)),
                bom=bool(parameters.get("bom")),
            )
            if export_format.name == "csv"
            else jsonl_chunks(spec, counted(batches(session, spec, ids, size, JOB_READERS)))
        )
        with path.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
    return JobOutcome(path=path, name=file_name(spec, export_format), rows=written)


register(JobKind(KIND, run=run_export, refusal=export_refusal))
