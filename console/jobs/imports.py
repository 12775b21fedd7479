"""Imports of customers, products and stock counts: mapping, the row checks, preview, apply.

The rows of a file are checked by the list view's own form (``view.get_create_form()``:
the same filters and validators as a person typing them in, including the uniqueness
checks), one form per row, filled from the row's cells for the mapped fields only; an
existing record (matched by e-mail or SKU, ignoring case) is given to the form as
its object, as the edit page does. So an import has no rules of its own beyond
reading cells:

- ``yes``/``no`` (and true/false, 1/0) for yes-or-no fields;
- a cell starting with ``=`` is a formula and is refused (the person types the value,
  or an apostrophe first to import it as text); a leading apostrophe before ``=``,
  ``+``, ``-``, ``@``, tab or CR is removed, undoing the exports' neutralisation, so
  an exported file imports back unchanged;
- a product's tax rate is given by name, among the active rates the form offers.

Each row is to create, update (with its changed fields before and after), leave
unchanged, or in error (each error per field, with the form's message). Two rows of a
file with the same key are both in error. Applying is one transaction: all or
nothing, or the valid rows only when the person chose so. The rows are written in
bulk (``_BulkWriter``: Core statements executed many at once), each audited as the
form's save would be (as the person who confirmed it, with the note "Import #N"),
moving the record's version as an edit on the page does.

The preview keeps each valid row as checked (``import_checked_row``); applying takes
them as checked when their record is still at the version checked (a row whose
record changed since is caught, not checked again and overwritten), checks again
only the rows in error, and writes a chunk at a time in that one transaction, so an
import's memory does not grow with its file. Files of more than
``IMPORT_INLINE_MAX_ROWS`` rows are previewed and applied by a job of kind ``import``
(progress while the rows are checked, and while they are written).
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property
from itertools import islice
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import LazyString, gettext, lazy_pgettext, ngettext
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from wtforms import Form

from console import audit
from console.admin.registry import find_view
from console.audit import acting
from console.database import db, execute_many, rowcount
from console.i18n import format_count
from console.jobs.import_files import Limits, Table, read_table
from console.jobs.kinds import JobKind, register
from console.jobs.runner import JobCancelled, JobContext, JobOutcome
from console.models import Customer, ImportBatch, ImportCheckedRow, Product, TaxRate, User
from console.models.base import utcnow
from console.models.customers import search_text_of
from console.models.products import zero_rate_id
from console.permissions import CUSTOMERS_WRITE, PRODUCTS_WRITE, STAFF_MANAGE, STOCK_ADJUST
from console.services import imports as import_service
from console.services import stock as stock_service
from console.services.errors import DomainError

KIND = "import"

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
ERROR = "error"
ACTIONS = (CREATE, UPDATE, UNCHANGED, ERROR)

REPORT_LIMIT = 1_000
"""Rows in error and updates listed in a preview (the counts are always complete)."""
CHUNK = 500
"""Rows whose existing records are looked up together."""
KEEP_EVERY = 5_000
"""Rows checked by a preview written (``import_checked_row``) per transaction."""

FORMULA = "="
NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
YES = {"yes", "y", "true", "1", "x", "on"}
NO = {"no", "n", "false", "0", "", "off"}


@dataclass(frozen=True)
class Column:
    """A field an import can set, and how a file's header names it."""

    name: str
    header: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    boolean: bool = False


@dataclass(frozen=True)
class ImportSpec:
    kind: str
    view: str
    """The list view whose form checks the rows."""
    model: Any
    """``Customer`` or ``Product``."""
    key: str
    columns: tuple[Column, ...]
    permission: str
    noun: str
    reads: tuple[str, ...] = ()
    """Columns of an existing record the write needs besides the mapped ones: those
    of its label (``str(record)``) and of ``derived``."""
    derived: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    """Columns the model keeps from others (a customer's ``search_text``), from a
    record's values after the write; the ORM keeps them, a bulk write asks here."""
    ledger: bool = False
    """Rows are stock counts of existing products, checked here and written by the
    stock service (``stock.record_counts``), rather than records checked by a form."""

    def column(self, name: str) -> Column:
        return self._columns[name]

    @property
    def kind_label(self) -> str:
        """What the rows are, in the reader's words, as a sentence says it ("customers",
        "Kunden"); ``kind`` stays the stored word."""
        return str(KIND_LABELS.get(self.kind, self.kind))

    @cached_property
    def _columns(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}


KIND_LABELS: dict[str, LazyString] = {
    "customers": lazy_pgettext("import kind", "customers"),
    "products": lazy_pgettext("import kind", "products"),
    "stock": lazy_pgettext("import kind", "stock counts"),
}
"""How each kind of import (``import_batch.kind``) reads inside a sentence."""

SPECS: dict[str, ImportSpec] = {
    spec.kind: spec
    for spec in (
        ImportSpec(
            "customers",
            "customer",
            Customer,
            "email",
            (
                Column("email", "E-mail", True, ("email address", "e-mail address", "mail")),
                Column("first_name", "First name", True, ("firstname", "given name")),
                Column("last_name", "Last name", True, ("lastname", "surname", "family name")),
                Column("phone", "Phone", False, ("telephone", "phone number")),
                Column("notes", "Notes"),
            ),
            CUSTOMERS_WRITE,
            "customer",
            reads=("first_name", "last_name", "email"),
            derived=lambda v: {
                "search_text": search_text_of(
                    v.get("first_name"), v.get("last_name"), v.get("email")
                )
            },
        ),
        ImportSpec(
            "products",
            "product",
            Product,
            "sku",
            (
                Column("sku", "SKU", True, ("product code", "code")),
                Column("name", "Name", True, ("product", "product name")),
                Column("description", "Description"),
                Column("unit_price", "Unit price", True, ("price",)),
                Column("tax_rate", "Tax rate", False, ("tax",)),
                # A new product's initial stock ("received" in the stock ledger); the
                # stock of an existing product changes through the ledger only (Adjust
                # stock), so an existing product's row leaves it as it is.
                Column("stock", "Initial stock", False, ("stock", "stock on hand", "available")),
                Column("active", "Active", False, boolean=True),
            ),
            PRODUCTS_WRITE,
            "product",
            reads=("sku", "name"),
        ),
        # Stock counts: what is on the shelf, typed per product; each count is a
        # "counted" movement of the stock ledger (docs/stock.md), never a new product.
        ImportSpec(
            "stock",
            "stock_movement",
            Product,
            "sku",
            (
                Column("sku", "SKU", True, ("product code", "code")),
                Column(
                    "counted",
                    "Counted",
                    True,
                    ("count", "counted quantity", "quantity", "qty", "on the shelf", "on hand"),
                ),
                Column("note", "Note", False, ("notes", "comment", "comments")),
            ),
            STOCK_ADJUST,
            "product",
            ledger=True,
        ),
    )
}


def spec_named(kind: str) -> ImportSpec:
    spec = SPECS.get(kind)
    if spec is None:
        raise DomainError(gettext("There is no import of %(kind)r.", kind=kind[:20]))
    return spec


def limits(app: Flask) -> Limits:
    return Limits(
        max_bytes=app.config["IMPORT_MAX_BYTES"],
        max_unpacked_bytes=app.config["IMPORT_MAX_UNPACKED_BYTES"],
        max_ratio=app.config["IMPORT_MAX_RATIO"],
    )


# --- mapping -----------------------------------------------------------------------------


def _folded(text: str) -> str:
    """A header compared ignoring case, spacing and punctuation: "Unit  price" = "unitprice"."""
    return re.sub(r"[\W_]+", "", text.casefold())


def auto_mapping(spec: ImportSpec, headers: Sequence[str]) -> dict[str, int]:
    """Field -> column index, for each field whose name a header gives (first match)."""
    folded = [_folded(header) for header in headers]
    mapping: dict[str, int] = {}
    for column in spec.columns:
        names = {_folded(n) for n in (column.name, column.header, *column.aliases)}
        for index, header in enumerate(folded):
            if header in names and index not in mapping.values():
                mapping[column.name] = index
                break
    return mapping


def clean_mapping(spec: ImportSpec, headers: Sequence[str], chosen: Mapping[str, Any]) -> dict:
    """A mapping posted by the person, checked: known fields, existing columns, no column twice.

    ``chosen`` maps a field to a column index (text), "" for "not imported".
    """
    mapping: dict[str, int] = {}
    for column in spec.columns:
        value = str(chosen.get(column.name, "") or "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) >= len(headers):
            raise import_service.ImportRefused(
                gettext(
                    "%(column)s: choose one of the file's columns. Nothing was changed.",
                    column=column.header,
                )
            )
        mapping[column.name] = int(value)
    used: dict[int, str] = {}
    for name, index in mapping.items():
        if index in used:
            raise import_service.ImportRefused(
                gettext(
                    "The column %(column)r is chosen for both %(first)s and %(second)s; a "
                    "column can fill one field only.",
                    column=headers[index],
                    first=spec.column(used[index]).header,
                    second=spec.column(name).header,
                )
            )
        used[index] = name
    return mapping


def missing_columns(spec: ImportSpec, headers: Sequence[str], mapping: Mapping[str, int]) -> str:
    """Why the mapping cannot be previewed (required fields without a column), or ""."""
    missing = [c.header for c in spec.columns if c.required and c.name not in mapping]
    if not missing:
        return ""
    found = ", ".join(repr(h) for h in headers[:12] if h) or gettext("none")
    message = gettext(
        "Required columns are missing: %(missing)s. Choose the file's column for each "
        "(columns found: %(found)s).",
        missing=", ".join(missing),
        found=found,
    )
    if len(headers) == 1:
        message += " " + gettext(
            "Only one column was found: the file's columns must be separated by commas, "
            "semicolons, tabs or vertical bars."
        )
    return message


# --- checking rows -----------------------------------------------------------------------


@dataclass
class RowResult:
    line: int
    key: str
    action: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    record_id: int | None = None
    version: int | None = None
    before: Any = None
    """The existing record's values as checked (a row of those the write needs)."""
    stale: bool = False
    """Checked by the preview against a record that has changed since (or, to create,
    against no record where there is one now): in error, and an all-or-nothing
    import is refused."""


class Tally:
    """What a preview or an outcome shows: every count, and the first ``REPORT_LIMIT``
    errors, updates and creations with the true totals, kept as the rows go by (no
    row's outcome is kept beyond what is shown)."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(ACTIONS, 0)
        self.errors: list[dict[str, Any]] = []
        self.errors_total = 0
        self.updates: list[dict[str, Any]] = []
        self.creates: list[dict[str, Any]] = []

    def add(self, row: RowResult) -> None:
        self.counts[row.action] += 1
        if row.action == ERROR:
            for name, messages in row.errors.items():
                for message in messages:
                    self.errors_total += 1
                    if len(self.errors) < REPORT_LIMIT:
                        self.errors.append(
                            {"line": row.line, "key": row.key, "field": name, "message": message}
                        )
        elif row.action == UPDATE and len(self.updates) < REPORT_LIMIT:
            self.updates.append({"line": row.line, "key": row.key, "changes": row.changes})
        elif row.action == CREATE and len(self.creates) < REPORT_LIMIT:
            self.creates.append({"line": row.line, "key": row.key})

    def report(self, **extra: Any) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "errors": self.errors,
            "errors_total": self.errors_total,
            "updates": self.updates,
            "updates_total": self.counts[UPDATE],
            "creates": self.creates,
            **extra,
        }


@dataclass
class Plan:
    spec: ImportSpec
    mapping: Mapping[str, int]
    rows: list[RowResult]
    """Each row's outcome; empty when checked for a preview only (``keep=False``)."""
    keep: bool = True
    tally: Tally = field(default_factory=Tally)
    """The counts and shown rows, as checked (before any write)."""

    def add(self, row: RowResult) -> None:
        self.tally.add(row)
        if self.keep:
            self.rows.append(row)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, TaxRate):
        return value.name
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _cell(raw: str) -> tuple[str, str | None]:
    """A cell's text as imported, and the error it carries (a formula), if any."""
    if raw.startswith(NEUTRALISED):
        return raw[1:], None
    if raw.startswith(FORMULA):
        return raw, gettext(
            "Formulas are not imported (%(formula)r): type the value itself, or put an "
            "apostrophe before it to import it as text.",
            formula=raw[:30],
        )
    return raw, None


def _row_form_class(view: Any, spec: ImportSpec, mapped: Iterable[str]) -> Any:
    """The view's create form, keeping only the fields the file fills.

    The tax rate is read by name here (the form's select takes an id), and the form's
    one-time token and inline address book are not part of a row. The key field's
    "no other record has it" check (a query per row) is left to the import's own
    match, which is the same comparison (trimmed, ignoring case) made for a chunk of
    rows at once: a row's key either names the record it updates, which the check
    excludes, or no record at all. The database's unique index stays the last word.
    """
    form_class = view.get_create_form()
    keep = set(mapped) - {"tax_rate"}
    fields = [n for n in dir(form_class) if hasattr(getattr(form_class, n, None), "_formfield")]
    attributes: dict[str, Any] = {name: None for name in fields if name not in keep}
    key_field = getattr(form_class, spec.key)
    attributes[spec.key] = type(key_field)(
        key_field.field_class,
        *key_field.args,
        **{
            **key_field.kwargs,
            "validators": [
                v for v in key_field.kwargs.get("validators") or () if not _is_uniqueness(v)
            ],
        },
    )
    return type(f"Import{form_class.__name__}", (form_class,), attributes)


def _is_uniqueness(validator: Any) -> bool:
    """The form's check that no other record has the key (Flask-Admin's or the console's)."""
    from flask_admin.contrib.sqla.validators import Unique

    from console.admin.products import sku_is_free

    return isinstance(validator, Unique) or validator is sku_is_free


class _TaxRates:
    """The active tax rates by name, as the product form offers them."""

    def __init__(self, session: Session) -> None:
        from console.admin.products import active_tax_rates  # the form's own choices

        self.active = {rate.name.casefold(): rate for rate in active_tax_rates()}
        self.by_id = {rate.id: rate for rate in session.scalars(select(TaxRate))}

    def find(self, name: str, current: TaxRate | None) -> tuple[TaxRate | None, str | None]:
        wanted = name.strip().casefold()
        if not wanted:
            if current is not None:
                return current, None
            return None, gettext("Choose the tax rate the product is sold at.")
        if current is not None and current.name.casefold() == wanted:
            return current, None  # a product keeps an inactive rate it has
        rate = self.active.get(wanted)
        if rate is None:
            names = ", ".join(sorted(r.name for r in self.active.values())) or gettext("none")
            return None, gettext(
                "Not an active tax rate: %(name)r (active rates: %(names)s).",
                name=name[:40],
                names=names,
            )
        return rate, None


def check_rows(
    session: Session,
    spec: ImportSpec,
    table: Table,
    mapping: Mapping[str, int],
    progress: Callable[[int], None] | None = None,
    *,
    keep: bool = True,
    kept: Callable[[list[RowResult]], None] | None = None,
) -> Plan:
    """What each row of ``table`` would do (``checked``), as one plan. Reads only.

    With ``keep=False`` (a preview) only the plan's tally is kept, not each row;
    ``kept(rows)`` is given each chunk of checked rows."""
    plan = Plan(spec, mapping, [], keep=keep)
    done = 0
    for rows in checked(session, spec, table, mapping):
        for row in rows:
            plan.add(row)
        if kept is not None:
            kept(rows)
        done += len(rows)
        if progress is not None:
            progress(done)
    return plan


def checked(
    session: Session,
    spec: ImportSpec,
    table: Table,
    mapping: Mapping[str, int],
    previewed: PreviewedRows | None = None,
) -> Iterator[list[RowResult]]:
    """What each row of ``table`` would do, checked by the view's form, ``CHUNK`` rows
    at a time, read from the file as they are needed. Reads only.

    With ``previewed`` (at the confirmation), a row the preview checked is taken as it
    was checked when its record is still at the version checked (and a row to create
    still matches no record); one whose record changed since is ``stale``. The rows
    the preview did not keep (those in error) are checked again."""
    if spec.ledger:
        yield from _checked_counts(session, spec, table, mapping)
        return
    view = find_view(current_app, spec.view)
    if view is None:
        raise DomainError(gettext("This console cannot import these records."))
    key_column = mapping[spec.key]
    tax_rates = _tax_rates(session, spec, mapping)
    check = _RowCheck(spec, view, mapping, tax_rates)
    key_of = getattr(spec.model, spec.key)
    read = {spec.key, *mapping, *spec.reads} - {"tax_rate"}
    if tax_rates is not None:
        read.add("tax_rate_id")
    model = spec.model
    columns = [model.id, model.version, *(getattr(model, name) for name in sorted(read))]

    if previewed is not None and previewed.rates != _fingerprint(tax_rates):
        previewed = None  # the active tax rates changed: every row is checked again
    # Found when a row is checked by the form (two passes over the file), which at the
    # confirmation may be never.
    duplicates: dict[str, list[int]] | None = None
    for chunk in _chunks(table.rows):
        keyed = [(line, cells, _key(cells, key_column)) for line, cells in chunk]
        keys = {key for _line, _cells, key in keyed if key}
        # Plain rows of the columns the form reads (the form takes any object with
        # those attributes): several times cheaper to load than ORM records.
        existing = {
            getattr(record, spec.key).strip().casefold(): record
            for record in session.execute(
                select(*columns).where(func.lower(key_of).in_(keys))
            ).all()
        }
        earlier = previewed.of(session, chunk[0][0], chunk[-1][0]) if previewed else {}
        rows = []
        for line, cells, key in keyed:
            was = earlier.get(line)
            if was is None:
                if duplicates is None:
                    duplicates = _duplicates(table, key_column)
                row = check(line, cells, key, existing.get(key), duplicates)
            else:
                row = _as_previewed(spec, was, line, cells, key, mapping, existing, tax_rates)
            rows.append(row)
        yield rows


@dataclass(frozen=True)
class PreviewedRows:
    """The rows a preview checked and kept (``import_checked_row``), read a chunk at a time."""

    batch_id: int
    preview: str
    rates: Any
    """The active tax rates the preview checked against (``_fingerprint``)."""

    @classmethod
    def of_batch(cls, batch: ImportBatch) -> PreviewedRows | None:
        report = batch.report or {}
        if not report.get("checked"):
            return None
        return cls(batch.id, report["checked"], report.get("checked_rates"))

    def of(self, session: Session, first: int, last: int) -> dict[int, Any]:
        """The kept rows of lines ``first`` to ``last``, by line."""
        kept = ImportCheckedRow
        return {
            row.line: row
            for row in session.execute(
                select(kept.line, kept.action, kept.record_id, kept.version, kept.data).where(
                    kept.batch_id == self.batch_id,
                    kept.preview == self.preview,
                    kept.line.between(first, last),
                )
            ).all()
        }


def _tax_rates(session: Session, spec: ImportSpec, mapping: Mapping[str, int]) -> _TaxRates | None:
    """The tax rates a product row's check reads, when the file gives them."""
    return _TaxRates(session) if spec.model is Product and "tax_rate" in mapping else None


def _fingerprint(tax_rates: _TaxRates | None) -> Any:
    """What a row's check depends on besides the row and its record: the active rates."""
    if tax_rates is None:
        return None
    return sorted([rate.id, name] for name, rate in tax_rates.active.items())


def checked_values(batch_id: int, preview: str, rows: list[RowResult]) -> list[dict[str, Any]]:
    """The ``import_checked_row`` values of rows checked by preview ``preview`` (all
    but those in error)."""
    return [
        {
            "batch_id": batch_id,
            "preview": preview,
            "line": row.line,
            "action": row.action,
            "record_id": row.record_id,
            "version": row.version,
            "data": json.dumps(row.values, default=str),
        }
        for row in rows
        if row.action != ERROR
    ]


def _as_previewed(
    spec: ImportSpec,
    was: Any,
    line: int,
    cells: Sequence[str],
    key: str,
    mapping: Mapping[str, int],
    existing: Mapping[str, Any],
    tax_rates: _TaxRates | None,
) -> RowResult:
    """A row as its preview checked it, if its record is as it was then; else stale."""
    record = existing.get(key)
    result = RowResult(line=line, key=_shown_key(cells, mapping[spec.key], key), action=ERROR)
    if was.action == CREATE:
        same = record is None
    else:
        same = record is not None and (record.id, record.version) == (was.record_id, was.version)
    if not same:
        result.stale = True
        result.errors = {
            "": [
                gettext(
                    "Changed, deleted or created by someone since the preview: preview the "
                    "import again."
                )
            ]
        }
        return result
    values = json.loads(was.data)
    for name in _amounts(spec.model).intersection(values):
        if values[name] is not None:
            values[name] = Decimal(values[name])  # kept as text (``checked_values``)
    return _outcome(spec, result, values, record, tax_rates)


@cache
def _amounts(model: Any) -> frozenset[str]:
    """The model's columns held as ``Decimal``."""
    return frozenset(
        column.key for column in model.__table__.columns if column.type.python_type is Decimal
    )


def _chunks(rows: Iterable[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    """``rows`` in lists of ``CHUNK``, read as they are needed."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk
        if not gc.isenabled():
            # While the collector is paused (``collector_paused``), the reference
            # cycles made for the chunk (SQL statements holding its keys) are freed
            # here: only what was made since the last chunk is looked at.
            gc.collect(1)


KEY_BITS = 1 << 23
"""Bits of the table in which ``_duplicates`` marks the keys it has met (1 MB, whatever
the file's size; about 1% of its bits are set by a file of the most rows)."""


def _duplicates(table: Table, key_column: int) -> dict[str, list[int]]:
    """The keys given on more than one row of the file, with those rows' lines.

    A first pass marks each key's hash in a table of bits of a fixed size, and keeps
    only the hashes of the keys whose bit was marked already (repeats, and a few
    unrelated keys sharing a bit); a second pass gathers the keys and lines of those
    hashes, which tells true repeats from mere collisions. Memory stays flat as the
    file grows.
    """
    marks = bytearray(KEY_BITS // 8)
    candidates: set[int] = set()
    for _line, cells in table.rows:
        if key := _key(cells, key_column):
            hashed = hash(key)
            bit = hashed % KEY_BITS
            if marks[bit >> 3] & (1 << (bit & 7)):
                candidates.add(hashed)
            else:
                marks[bit >> 3] |= 1 << (bit & 7)
    del marks
    seen: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    if not candidates:
        return duplicates
    for line, cells in table.rows:
        key = _key(cells, key_column)
        if key and hash(key) in candidates:
            if key in seen:
                duplicates.setdefault(key, [seen[key]]).append(line)
            else:
                seen[key] = line
    return duplicates


def _duplicate_error(spec: ImportSpec, key: str, line: int, duplicates: Mapping) -> str:
    others = ", ".join(str(n) for n in duplicates[key] if n != line)
    return gettext(
        "The same %(column)s is on rows %(others)s as well: each record may appear once in a file.",
        column=spec.column(spec.key).header,
        others=others,
    )


ON_SHELF = "On the shelf"
AVAILABLE = "Available"
WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def _checked_counts(
    session: Session, spec: ImportSpec, table: Table, mapping: Mapping[str, int]
) -> Iterator[list[RowResult]]:
    """What each stock count would do, a chunk at a time (docs/stock.md): its movement is
    ``counted - (available + reserved)``, "unchanged" when that is zero. Reads only.

    Rows in error: an unknown SKU (a count never creates a product), a count that is
    not a whole number, below zero or above any stock, one below what approved orders
    hold, a formula, a note too long, a SKU given twice.
    """
    key_column = mapping[spec.key]
    duplicates = _duplicates(table, key_column)
    sku_header = spec.column("sku").header
    counted_header = spec.column("counted").header
    note_header = spec.column("note").header
    for chunk in _chunks(table.rows):
        rows: list[RowResult] = []
        keys = {k for k in (_key(cells, key_column) for _line, cells in chunk) if k}
        found = session.execute(
            select(Product.id, Product.sku, Product.stock, Product.version).where(
                func.lower(Product.sku).in_(keys)
            )
        ).all()
        existing = {product.sku.strip().casefold(): product for product in found}
        reserved = stock_service.reserved_quantities(session, [p.id for p in found])
        for line, cells in chunk:
            key = _key(cells, key_column)
            shown = _cell(cells[key_column])[0].strip()[:100] if key else ""
            row = RowResult(line=line, key=shown, action=ERROR)
            errors: dict[str, list[str]] = {}

            def cell(name: str, row_cells: Sequence[str] = cells) -> tuple[str, str | None]:
                index = mapping.get(name)
                if index is None or index >= len(row_cells):
                    return "", None
                return _cell(row_cells[index])

            product = existing.get(key)
            if not key:
                errors.setdefault(sku_header, []).append(gettext("Give the product's SKU."))
            elif product is None:
                errors.setdefault(sku_header, []).append(
                    gettext(
                        "There is no product with the SKU %(sku)r: a count changes the stock "
                        "of existing products only.",
                        sku=shown[:40],
                    )
                )
            if key in duplicates:
                errors.setdefault(sku_header, []).append(
                    _duplicate_error(spec, key, line, duplicates)
                )
            text, problem = cell("counted")
            counted: int | None = None
            if problem:
                errors.setdefault(counted_header, []).append(problem)
            elif not text.strip():
                errors.setdefault(counted_header, []).append(
                    gettext("Give the quantity counted on the shelf.")
                )
            elif not WHOLE_NUMBER.fullmatch(text.strip()):
                errors.setdefault(counted_header, []).append(
                    gettext(
                        "Give the counted quantity as a whole number (not %(text)r).",
                        text=text.strip()[:20],
                    )
                )
            else:
                counted = int(text.strip())
                if counted < 0:
                    errors.setdefault(counted_header, []).append(
                        gettext("A counted quantity cannot be below zero.")
                    )
                elif counted > stock_service.MAX_QUANTITY:
                    errors.setdefault(counted_header, []).append(
                        gettext(
                            "%(counted)s is more than any stock can be.",
                            counted=format_count(counted),
                        )
                    )
            note, problem = cell("note")
            note = note.strip()
            if problem:
                errors.setdefault(note_header, []).append(problem)
            elif len(note) > stock_service.MAX_NOTE_LENGTH:
                errors.setdefault(note_header, []).append(
                    gettext(
                        "The note is too long (at most %(max_note_length)s characters).",
                        max_note_length=stock_service.MAX_NOTE_LENGTH,
                    )
                )
            held = reserved.get(product.id, 0) if product is not None else 0
            if not errors and counted is not None and counted < held:
                errors.setdefault(counted_header, []).append(
                    gettext(
                        "%(counted)s counted, but approved orders not shipped yet hold "
                        "%(held)s; count again, or cancel or ship those orders first.",
                        counted=format_count(counted),
                        held=format_count(held),
                    )
                )
            if errors or product is None or counted is None:
                row.errors = errors
                rows.append(row)
                continue
            row.record_id = product.id
            row.version = product.version
            row.values = {"counted": counted, "note": note or None}
            on_shelf = product.stock + held
            if counted == on_shelf:
                row.action = UNCHANGED
            else:
                row.action = UPDATE
                row.changes = {
                    ON_SHELF: [on_shelf, counted],
                    AVAILABLE: [product.stock, counted - held],
                }
            rows.append(row)
        yield rows


def _key(cells: Sequence[str], index: int) -> str:
    """The row's key as records are matched by it: trimmed, case ignored."""
    return _cell(cells[index])[0].strip().casefold() if index < len(cells) else ""


def _shown_key(cells: Sequence[str], index: int, key: str) -> str:
    """The row's key as a report shows it: as typed, trimmed."""
    return _cell(cells[index])[0].strip()[:100] if key else ""


class _RowData(dict):
    """A row's cells by field name, as the form reads submitted data (``getlist``): a
    plain dict, cheaper to fill for every row than Werkzeug's ``MultiDict``."""

    def getlist(self, name: str) -> list[str]:
        return [self[name]] if name in self else []


class _RowCheck:
    """Checks one row at a time by the view's form, prepared once per file.

    One form, filled again for each row (``process``), as a fresh form per row would
    be: building its fields is most of the cost of checking a row. What the mapping
    decides (which cell fills which field, and the header its errors are shown under)
    is worked out here once rather than for each row.
    """

    def __init__(
        self,
        spec: ImportSpec,
        view: Any,
        mapping: Mapping[str, int],
        tax_rates: _TaxRates | None,
    ) -> None:
        self.spec = spec
        self.tax_rates = tax_rates
        self.form = _row_form_class(view, spec, mapping)(formdata=_RowData())
        self.key_column = mapping[spec.key]
        self.key_header = spec.column(spec.key).header
        self.cells = [
            (name, index, spec.column(name).header, spec.column(name).boolean)
            for name, index in mapping.items()
        ]
        self.headers = {name: header for name, _index, header, _boolean in self.cells}
        self.fields = [(name, self.form._fields[name]) for name in mapping if name != "tax_rate"]
        # Each field is filled and checked through its own ``process`` and ``validate``
        # (WTForms' API), with the form's inline ``filter_<name>``/``validate_<name>``
        # looked up once: what ``Form.process`` and ``Form.validate`` do for each row,
        # less their per-row look-ups. A form class that changes those steps goes
        # through them as they are.
        form_class = type(self.form)
        self.driven = (
            None
            if any(
                getattr(form_class, step) is not getattr(Form, step)
                for step in ("process", "validate", "post_process")
            )
            else [
                (
                    form_field,
                    [f] if (f := getattr(self.form, f"filter_{name}", None)) else [],
                    (v,) if (v := getattr(form_class, f"validate_{name}", None)) else (),
                )
                for name, form_field in self.form._fields.items()
            ]
        )

    def _valid(self, formdata: _RowData) -> bool:
        """Fill the form from ``formdata`` and check it (``Form.process``, ``validate``)."""
        form = self.form
        if self.driven is None:
            form.process(formdata=formdata)
            return form.validate()
        for form_field, filters, _validators in self.driven:
            form_field.process(formdata, extra_filters=filters)
        for form_field, _filters, _validators in self.driven:
            form_field.post_process(formdata)
        valid = True
        for form_field, _filters, validators in self.driven:
            if not form_field.validate(form, validators):
                valid = False
        return valid

    def __call__(
        self,
        line: int,
        cells: Sequence[str],
        key: str,
        record: Any,
        duplicates: Mapping[str, list[int]],
    ) -> RowResult:
        spec, tax_rates, form = self.spec, self.tax_rates, self.form
        result = RowResult(line=line, key=_shown_key(cells, self.key_column, key), action=ERROR)
        errors: dict[str, list[str]] = {}
        formdata = _RowData()
        tax_rate: TaxRate | None = None
        # Fields whose cell was refused before the form: the form's errors about the
        # then missing value would only repeat it.
        refused: set[str] = set()
        width = len(cells)
        for name, index, header, boolean in self.cells:
            text, problem = _cell(cells[index] if index < width else "")
            if problem:
                errors.setdefault(header, []).append(problem)
                refused.add(name)
                continue
            if boolean:
                word = text.strip().casefold()
                if word in YES:
                    formdata[name] = "y"
                elif word not in NO:
                    errors.setdefault(header, []).append(
                        gettext("Enter yes or no (not %(text)r).", text=text[:20])
                    )
                continue
            if name == "tax_rate" and tax_rates is not None:
                current = tax_rates.by_id.get(record.tax_rate_id) if record is not None else None
                tax_rate, problem = tax_rates.find(text, current)
                if problem:
                    errors.setdefault(header, []).append(problem)
                continue
            formdata[name] = text
        if key in duplicates:
            errors.setdefault(self.key_header, []).append(
                _duplicate_error(spec, key, line, duplicates)
            )
        form._obj = record  # what the form's checks compare with, as on the edit page
        # Every field of the row's form is filled from the row (``formdata``), so the
        # record's values would only be read to be replaced: not passing it (``obj``)
        # spares reading each of them from the database row, the same outcome.
        if not self._valid(formdata):
            for name, messages in form.errors.items():
                if name in refused:
                    continue
                header = self.headers.get(name, name)
                errors.setdefault(header, []).extend(str(m) for m in messages)
        if errors:
            result.errors = errors
            return result
        values = {name: field.data for name, field in self.fields}
        if "active" in values:
            values["active"] = bool(values["active"])
        if tax_rate is not None:
            # Written by key (the column); the audit trail names the rate.
            values["tax_rate_id"] = tax_rate.id
        if record is not None:
            values.pop("stock", None)  # changed through the stock ledger only (Column above)
        return _outcome(spec, result, values, record, tax_rates)


def _outcome(
    spec: ImportSpec,
    result: RowResult,
    values: dict[str, Any],
    record: Any,
    tax_rates: _TaxRates | None,
) -> RowResult:
    """A valid row's outcome from its values: to create, or its changes to ``record``."""
    result.values = values
    if record is None:
        result.action = CREATE
        return result
    result.record_id = record.id
    result.version = record.version
    result.before = record
    current = record._mapping
    for name, after in values.items():
        before = current[name]
        if before == after:
            continue
        if name == "tax_rate_id" and tax_rates is not None:
            before_rate = tax_rates.by_id.get(before)
            after_rate = tax_rates.by_id.get(after)
            result.changes[spec.column("tax_rate").header] = [
                before_rate.name if before_rate else None,
                after_rate.name if after_rate else None,
            ]
        else:
            result.changes[spec.column(name).header] = [_plain(before), _plain(after)]
    result.action = UPDATE if result.changes else UNCHANGED
    return result


# --- report ------------------------------------------------------------------------------


def _safe(value: Any) -> Any:
    from console.jobs.exports import neutralise_formula

    return neutralise_formula("" if value is None else str(value))


# --- applying ----------------------------------------------------------------------------


def apply(
    session: Session,
    spec: ImportSpec,
    chunks: Iterable[Sequence[RowResult]],
    batch: ImportBatch,
    actor: User,
    *,
    valid_only: bool,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Apply the checked rows in one transaction (committed here); the outcome's report.

    All or nothing unless ``valid_only``: then rows in error (and records changed by
    someone since the check) are left out. Refused with ``ImportRefused``, nothing
    changed, when rows are in error and the person did not choose valid rows only.

    ``chunks`` gives the rows as they are checked (``checked``), a chunk at a time;
    each chunk is written in bulk (``_BulkWriter``) before the next is checked, all in
    the one transaction, so only one chunk of rows is ever held, besides the outcome's
    counts and shown rows (``Tally``). ``progress(done)`` follows the rows checked
    and written. Once a row is in error in an all-or-nothing import, the rows after it
    are still checked (to count every error) but no longer written, and the
    transaction is rolled back.
    """
    note = f"Import #{batch.id} ({batch.file_name})"
    if spec.ledger:
        return _apply_counts(session, chunks, batch, actor, note, valid_only, progress)
    writer = _BulkWriter(session, spec, actor, note)
    tally = Tally()
    done = 0
    refused = False
    try:
        with acting(session, actor, note=note):
            for rows in chunks:
                stale = next((row for row in rows if row.stale), None)
                if stale is not None and not valid_only:
                    raise import_service.ImportRefused(
                        gettext(
                            "Row %(line)s (%(key)s) was changed, deleted or created by "
                            "someone since the preview, so nothing was imported. Preview the "
                            "import again.",
                            line=stale.line,
                            key=stale.key,
                        )
                    )
                refused = refused or (not valid_only and any(row.action == ERROR for row in rows))
                if not refused:
                    wanted = [row for row in rows if row.action in (CREATE, UPDATE)]
                    if wanted:
                        writer.write(writer.prepare(wanted), valid_only=valid_only)
                for row in rows:
                    tally.add(row)
                done += len(rows)
                if progress is not None:
                    progress(done)
            _refuse_errors(tally, valid_only)
            outcome = tally.report(applied=True, valid_only=valid_only)
            import_service.finish(session, batch.id, outcome)
            session.commit()
    except (IntegrityError, StaleDataError):
        session.rollback()
        raise import_service.ImportRefused(
            gettext(
                "Another change to the same records happened while the import was applied, "
                "so nothing was imported. Preview the import again."
            )
        ) from None
    except Exception:
        session.rollback()
        raise
    return outcome


def _refuse_errors(tally: Tally, valid_only: bool) -> None:
    if tally.counts[ERROR] and not valid_only:
        raise import_service.ImportRefused(
            ngettext(
                "%(num)s row has errors, so nothing was imported (all or nothing). Fix it "
                'and upload the file again, or confirm with "valid rows only".',
                "%(num)s rows have errors, so nothing was imported (all or nothing). Fix "
                'them and upload the file again, or confirm with "valid rows only".',
                tally.counts[ERROR],
            )
        )


def _apply_counts(
    session: Session,
    chunks: Iterable[Sequence[RowResult]],
    batch: ImportBatch,
    actor: User,
    note: str,
    valid_only: bool,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    """Write a stock-count import's movements through the stock service, in one
    transaction with the import's outcome (committed here).

    The service reads available and reserved again under a lock, so a count whose
    figures moved since the check is written as it is now (a count types the shelf);
    one below what approved orders hold by then refuses the import (or, valid rows
    only, is left out), and one that now matches the ledger is unchanged. The counts
    that change stock are kept until all are checked, since the service locks the
    products of all of them in id order; every other row is only counted.
    """
    tally = Tally()
    by_product: dict[int, RowResult] = {}
    done = 0
    try:
        with acting(session, actor, note=note):
            for rows in chunks:
                for row in rows:
                    if row.action == UPDATE and row.record_id is not None:
                        by_product[row.record_id] = row
                    else:
                        tally.add(row)
                done += len(rows)
                if progress is not None:
                    progress(done)
            _refuse_errors(tally, valid_only)
            counts = [
                stock_service.Count(product_id, row.values["counted"], row.values.get("note"))
                for product_id, row in by_product.items()
            ]
            outcome = stock_service.record_counts(session, actor, counts, note)
            for product_id, reason in outcome.refused.items():
                row = by_product[product_id]
                if not valid_only:
                    raise import_service.ImportRefused(
                        gettext(
                            "Row %(line)s (%(key)s): %(reason)s Nothing was imported.",
                            line=row.line,
                            key=row.key,
                            reason=reason,
                        )
                    )
                row.action = ERROR
                row.errors = {"": [reason]}
                row.changes = {}
            for product_id in outcome.unchanged:
                by_product[product_id].action = UNCHANGED
                by_product[product_id].changes = {}
            for row in by_product.values():
                tally.add(row)
            result = tally.report(applied=True, valid_only=valid_only)
            import_service.finish(session, batch.id, result)
            session.commit()
    except Exception:
        session.rollback()
        raise
    return result


@dataclass
class _Prepared:
    """One batch of rows, ready to write: each row with its statement's values."""

    creates: list[tuple[RowResult, dict[str, Any], str | None]]
    """(row, the ``INSERT``'s values, the record's label)"""
    updates: list[tuple[RowResult, dict[str, Any], dict[str, Any], str | None]]
    """(row, the columns to set, the values they replace, the label after)"""


class _BulkWriter:
    """Writes checked rows with Core statements executed many at once, audited.

    The same as the unit of work would do for each record, at a fraction of its cost:
    the model's defaults and derived columns (``ImportSpec.derived``), ``created_at``
    and ``updated_at``, the version moved by one on each update (``UPDATE ... WHERE
    version = <the version checked>``: a record changed since the check is refused or,
    with valid rows only, left out), and the audit events the flush would record
    (``console.audit.record_written``).
    """

    def __init__(self, session: Session, spec: ImportSpec, actor: User, note: str) -> None:
        self.session = session
        self.spec = spec
        self.actor = actor
        self.note = note
        self.model = spec.model
        self.table = spec.model.__table__
        self.now = utcnow()
        # The model's label (``str(record)``) from a row's values, without building
        # an ORM object per row: one transient record, never added to a session,
        # whose attributes are set directly.
        self.probe = spec.model()
        self.defaults = self._creation_defaults()
        self.updates: dict[tuple[str, ...], Any] = {}

    def _creation_defaults(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            column.key: column.default.arg
            for column in self.table.columns
            if column.default is not None and column.default.is_scalar
        }
        defaults.update(created_at=self.now, updated_at=self.now)
        if self.model is Product:
            from console.admin.products import usual_tax_rate  # the form's default

            usual = usual_tax_rate()
            defaults["tax_rate_id"] = (
                usual.id if usual is not None else zero_rate_id(self.session.connection())
            )
        return defaults

    def _label(self, values: Mapping[str, Any]) -> str | None:
        self.probe.__dict__.update(values)
        try:
            return str(self.probe)[:255]
        except Exception:  # noqa: BLE001 - a label must never break the change it describes
            return None

    def prepare(self, rows: Sequence[RowResult]) -> _Prepared:
        """Each row's statement values and label (reads nothing from the database)."""
        prepared = _Prepared(creates=[], updates=[])
        derive = self.spec.derived
        for row in rows:
            values = dict(row.values)
            if row.action == CREATE:
                after = {**self.defaults, **values}
                if derive is not None:
                    after.update(derive(after))
                prepared.creates.append((row, after, self._label(after)))
            else:
                before = row.before._asdict() if row.before is not None else {}
                changed = {n: v for n, v in values.items() if before.get(n) != v}
                merged = {**before, **values}
                if derive is not None:
                    changed.update({n: v for n, v in derive(merged).items() if before.get(n) != v})
                prepared.updates.append(
                    (row, changed, {n: before.get(n) for n in changed}, self._label(merged))
                )
            row.values, row.before = {}, None  # written from here on: not kept twice
        return prepared

    def write(self, prepared: _Prepared, *, valid_only: bool) -> None:
        """Run one batch's statements in the transaction under way, and audit them."""
        connection = self.session.connection()
        written: list[audit.Written] = []
        updates = self._current(prepared.updates, valid_only=valid_only)
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, changed, before, label in updates:
            version = (row.version or 0) + 1
            by_columns.setdefault(tuple(sorted(changed)), []).append(
                {
                    **{f"new_{name}": value for name, value in changed.items()},
                    "seen_id": row.record_id,
                    "seen_version": row.version,
                    "new_version": version,
                    "new_updated_at": self.now,
                }
            )
            written.append(audit.Written(UPDATE, row.record_id, version, label, changed, before))
        for columns, parameters in by_columns.items():
            result = execute_many(connection, self._update(columns), parameters)
            if rowcount(result) != len(parameters):
                raise StaleDataError("a record changed between its check and its update")
        if prepared.creates:
            afters = [after for _r, after, _l in prepared.creates]
            execute_many(connection, insert(self.table), afters)
            keys = [after[self.spec.key] for after in afters]
            ids = self._ids_of(keys)
            for row_key, (_row, after, label) in zip(keys, prepared.creates, strict=True):
                written.append(
                    audit.Written(CREATE, ids[row_key], after.get("version"), label, after)
                )
            if self.model is Product:
                # A new product's stock is "received", as on the product form: the one
                # place an import moves stock (console.services.stock).
                stock_service.record_initial_stocks(
                    self.session,
                    [
                        (ids[k], after.get("stock") or 0)
                        for k, (_r, after, _l) in zip(keys, prepared.creates, strict=True)
                    ],
                    self.actor,
                    self.note,
                )
        audit.record_written(self.session, self.model, written, at=self.now)

    def _ids_of(self, keys: list[str]) -> dict[str, int]:
        """The ids of the records just created with ``keys``, by key.

        Found through the lower-cased key's index (``INSERT ... RETURNING`` in the
        order of the rows would make SQLAlchemy send one statement per row on SQLite).
        SQLite lower-cases ASCII letters only: a key it lower-cases otherwise than
        Python is looked up as it is.
        """
        key = self.table.c[self.spec.key]
        ids: dict[str, int] = dict(
            self.session.execute(
                select(key, self.table.c.id).where(func.lower(key).in_({k.lower() for k in keys}))
            ).all()
        )
        missing = [k for k in keys if k not in ids]
        if missing:
            ids.update(
                self.session.execute(select(key, self.table.c.id).where(key.in_(missing))).all()
            )
        return ids

    def _current(
        self, updates: list[tuple[RowResult, dict, dict, str | None]], *, valid_only: bool
    ) -> list[tuple[RowResult, dict, dict, str | None]]:
        """The updates whose record is still as checked; the others refused or left out."""
        if not updates:
            return []
        ids = [row.record_id for row, *_rest in updates]
        versions: dict[int, int] = dict(
            self.session.execute(
                select(self.table.c.id, self.table.c.version)
                .where(self.table.c.id.in_(ids))
                .with_for_update()
            ).all()
        )
        kept = []
        for update_ in updates:
            row = update_[0]
            if row.record_id is not None and versions.get(row.record_id) == row.version:
                kept.append(update_)
                continue
            if not valid_only:
                raise import_service.ImportRefused(
                    gettext(
                        "Row %(line)s (%(key)s) was changed or deleted by someone since the "
                        "check, so nothing was imported. Preview the import again.",
                        line=row.line,
                        key=row.key,
                    )
                )
            row.action = ERROR
            row.errors = {"": [gettext("Changed by someone since the check.")]}
        return kept

    def _update(self, columns: tuple[str, ...]) -> Any:
        """``UPDATE`` of ``columns`` (and the version) of one record at its checked version."""
        if columns not in self.updates:
            table = self.table
            self.updates[columns] = (
                update(table)
                .where(
                    table.c.id == bindparam("seen_id"),
                    table.c.version == bindparam("seen_version"),
                )
                .values(
                    {
                        **{name: bindparam(f"new_{name}") for name in columns},
                        "version": bindparam("new_version"),
                        "updated_at": bindparam("new_updated_at"),
                    }
                )
            )
        return self.updates[columns]


_PAUSES = 0
_RESUME = True
_PAUSES_LOCK = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import checks and writes rows.

    An import builds hundreds of thousands of small objects that live until it ends
    (the file's rows, each row's outcome, the statements' values); each pass of the
    collector over them found nothing to free and took about a quarter of an import's
    CPU time (``bench/import.py``). Reference counting still frees everything that is
    let go; the collector resumes (in every thread: it is per process) when the last
    import running in the process ends.
    """
    global _PAUSES, _RESUME
    with _PAUSES_LOCK:
        _PAUSES += 1
        if _PAUSES == 1:
            _RESUME = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _PAUSES_LOCK:
            _PAUSES -= 1
            if _PAUSES == 0 and _RESUME:
                gc.enable()


# --- the steps, at once or as a job ---------------------------------------------------


def table_of(app: Flask, batch: ImportBatch, session: Session | None = None) -> Table:
    """The import's stored file, read from the database as its rows are needed."""
    stored = import_service.StoredFile(session or db.session(), batch)
    return read_table(stored, limits(app))


def preview(
    app: Flask, session: Session, batch: ImportBatch, progress=None, job_id: int | None = None
) -> dict[str, Any]:
    """Check every row and keep the preview on the import; its report."""
    spec = spec_named(batch.kind)
    table = table_of(app, batch, session)
    problem = missing_columns(spec, table.headers, batch.mapping)
    if problem:
        raise import_service.ImportRefused(problem)
    # The rows checked are kept (``import_checked_row``) for the confirmation, which
    # then checks only the rows whose record changed since. They are written on a
    # connection of their own, ``KEEP_EVERY`` rows per short transaction, as a job's
    # progress is: the preview's session only reads.
    checked_by = uuid.uuid4().hex
    batch_id = batch.id
    bind = session.get_bind()
    engine_ = bind if isinstance(bind, Engine) else bind.engine
    pending: list[dict[str, Any]] = []

    def write_pending() -> None:
        if pending:
            with engine_.begin() as connection:
                connection.execute(insert(ImportCheckedRow), pending)
            pending.clear()

    def kept(rows: list[RowResult]) -> None:
        if not spec.ledger:
            pending.extend(checked_values(batch_id, checked_by, rows))
            if len(pending) >= KEEP_EVERY:
                write_pending()

    extra = {}
    if not spec.ledger:
        extra = {
            "checked": checked_by,
            "checked_rates": _fingerprint(_tax_rates(session, spec, batch.mapping)),
        }
    with collector_paused():
        plan = check_rows(session, spec, table, batch.mapping, progress, keep=False, kept=kept)
        write_pending()
    outcome = plan.tally.report(**extra)
    session.commit()
    if not import_service.record_preview(session, batch.id, outcome, job_id):
        raise import_service.ImportRefused(
            gettext(
                "Import #%(id)s was confirmed or mapped again meanwhile; this preview was "
                "not kept.",
                id=batch.id,
            )
        )
    return outcome


def confirm_and_apply(
    app: Flask,
    session: Session,
    batch: ImportBatch,
    actor: User,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Apply the rows as the preview checked them (``checked`` with the preview's kept
    rows: those whose record changed since are caught), a chunk at a time, in one
    transaction.

    The import was claimed (``import_service.confirm``) before; on refusal it is marked
    failed with the reason and nothing is changed. ``progress(done)`` counts the rows
    checked and written; it stops one row short of the end, reached when the
    transaction has committed.
    """
    spec = spec_named(batch.kind)
    batch_id = batch.id
    rows = batch.rows

    def written(done: int) -> None:
        if progress is not None:
            progress(min(rows - 1, done))

    try:
        table = table_of(app, batch, session)
        previewed = PreviewedRows.of_batch(batch)
        with collector_paused():
            chunks = checked(session, spec, table, batch.mapping, previewed)
            return apply(
                session, spec, chunks, batch, actor, valid_only=batch.valid_only, progress=written
            )
    except DomainError as exc:
        session.rollback()
        import_service.fail(session, batch_id, exc.message)
        raise
    except JobCancelled:
        raise  # the job's end settles the import (``import_service.settle``)
    except Exception as exc:
        session.rollback()
        import_service.fail(
            session,
            batch_id,
            gettext("Nothing was imported: an unexpected error (%(error)s).", error=exc),
        )
        raise


def import_refusal(owner: User, parameters: Mapping[str, Any]) -> str | None:
    """Why ``owner`` may not run this import job (the kind's write permission)."""
    batch = db.session.get(ImportBatch, int(parameters.get("batch", 0) or 0))
    if batch is None:
        return gettext("This import no longer exists.")
    spec = SPECS.get(batch.kind)
    if spec is None or not owner.active:
        return gettext("Your account may not import these records.")
    if batch.owner_id != owner.id and not owner.has_permission(STAFF_MANAGE):
        return gettext("Only the person who uploaded an import may run it.")
    if not owner.has_permission(spec.permission):
        return gettext(
            "Your role does not allow importing %(kind)s (it needs %(permission)s).",
            kind=batch.kind,
            permission=spec.permission,
        )
    return None


def run_import(context: JobContext) -> JobOutcome:
    """The ``import`` job: the preview or the application of one import."""
    session = context.session
    batch = session.get(ImportBatch, int(context.parameters["batch"]))
    if batch is None:
        raise DomainError(gettext("This import no longer exists."))
    step = context.parameters.get("step")
    total = batch.rows
    context.progress(0, total, force=True)

    def progress(done: int) -> None:
        context.progress(min(done, total), total)

    if step != "apply":
        if not import_service.claim_preview(session, batch.id, context.job_id):
            raise import_service.ImportRefused(
                gettext(
                    "Import #%(id)s was confirmed meanwhile; it is not previewed again.",
                    id=batch.id,
                )
            )
        session.refresh(batch)
    if step == "apply":
        outcome = confirm_and_apply(context.app, session, batch, context.owner, progress)
    else:
        outcome = preview(context.app, session, batch, progress, context.job_id)
    path = context.partial_path("csv")
    _write_summary(path, batch, outcome)
    name = f"import-{batch.id}-{'outcome' if step == 'apply' else 'preview'}.csv"
    return JobOutcome(path=path, name=name, rows=total)


def _write_summary(path: Path, batch: ImportBatch, outcome: Mapping[str, Any]) -> None:
    """The job's file: the counts, then each listed error and change."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Row", "Key", "Outcome", "Field", "Message or before", "After"])
    for action in ACTIONS:
        writer.writerow(["", "", f"{action}: {outcome['counts'][action]}", "", "", ""])
    for error in outcome["errors"]:
        writer.writerow(
            [error["line"], _safe(error["key"]), ERROR, error["field"], error["message"], ""]
        )
    for updated in outcome["updates"]:
        for name, (before, after) in updated["changes"].items():
            writer.writerow(
                [updated["line"], _safe(updated["key"]), UPDATE, name, _safe(before), _safe(after)]
            )
    path.write_text(buffer.getvalue(), encoding="utf-8")


register(JobKind(KIND, run=run_import, refusal=import_refusal))
