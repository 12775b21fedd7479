"""Reading an uploaded import file: CSV or XLSX, checked before anything trusts it.

What the file is comes from its content, not its name: an XLSX workbook is a zip
archive (``PK\\x03\\x04``), anything else must be UTF-8 text (with or without a
byte-order mark) read as CSV. The checks, each refusing with a sentence a person can
act on:

- empty, or holding nothing but blank lines;
- a binary file under another name (NUL bytes, an old ``.xls``, a zip archive that is
  not a workbook);
- a zip or XLSX bomb: before openpyxl opens the workbook, the declared sizes of the
  archive's entries are added up and compared with ``IMPORT_MAX_UNPACKED_BYTES``, and
  each large entry's compression ratio with ``IMPORT_MAX_RATIO`` (zipfile never
  unpacks more than an entry declares, so the declared sizes bound the work);
- text that is not UTF-8 (a Windows-1252 or Latin-1 export): the person is asked to
  save it as "CSV UTF-8"; no guessing of encodings;
- a delimiter that is not a comma, semicolon, tab or vertical bar (``csv.Sniffer``
  picks among these; a file whose header holds a single column is named as such).

XLSX is read by openpyxl in read-only mode, first worksheet, values as stored (a
formula cell reads as its formula text, which the import refuses per cell).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from console.services.errors import DomainError

CSV = "csv"
XLSX = "xlsx"

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Old Excel (.xls) and other Office 97-2003 files."""

DELIMITERS = ",;\t|"
MAX_COLUMNS = 200
MAX_ROWS = 100_000
"""Rows of one import. An import is applied in one transaction, and each row's outcome
and statement values stay in memory until it commits (bench/RESULTS.md). A file of tiny
rows within the size limit could otherwise hold millions."""
MAX_ZIP_ENTRIES = 1_000
RATIO_CHECKED_FROM = 1_000_000
"""Entries smaller than this (unpacked) are not held to the compression ratio."""


class FileRefused(DomainError):
    """The file cannot be imported at all (nothing was stored or changed)."""


class Rows:
    """A file's data rows, read from the file again at each pass and never all kept:
    ``(line, cells)``, the line (row number in a spreadsheet, header = 1) and cells.

    ``lines`` gives the file's lines anew at each call; the rows were counted (and the
    file found readable) by a first pass when the file was read.
    """

    def __init__(self, lines: Callable[[], Iterable[list[str]]], count: int) -> None:
        self._lines = lines
        self.count = count

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        header_seen = False
        for line, cells in enumerate(self._lines(), start=1):
            if not any(cell.strip() for cell in cells):
                continue
            if not header_seen:
                header_seen = True
                continue
            yield line, cells

    def __len__(self) -> int:
        return self.count


@dataclass
class Table:
    """A file's header and data rows, every cell as text."""

    file_format: str
    headers: list[str]
    rows: Rows
    delimiter: str | None = None


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_unpacked_bytes: int
    max_ratio: int


def read_table(data: bytes, limits: Limits) -> Table:
    """The rows of ``data`` (CSV or XLSX); ``FileRefused`` with the reason otherwise."""
    if len(data) > limits.max_bytes:
        raise FileRefused(
            f"The file is {len(data):,} bytes; imports take files of up to "
            f"{limits.max_bytes:,} bytes. Split it into smaller files."
        )
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileRefused("The file is empty: there is nothing to import.")
    if data.startswith(ZIP_MAGIC):
        table = _read_xlsx(data, limits)
    elif data.startswith(OLE_MAGIC):
        raise FileRefused(
            "This is an old Excel file (.xls), which is not imported: save it as "
            "Excel Workbook (.xlsx) or CSV UTF-8 and upload that."
        )
    else:
        table = _read_csv(data)
    if not any(header.strip() for header in table.headers):
        raise FileRefused("The file is empty: there is nothing to import.")
    if not table.rows:
        raise FileRefused("The file has a header row but no data rows: there is nothing to import.")
    if len(table.headers) > MAX_COLUMNS:
        raise FileRefused(
            f"The file has {len(table.headers):,} columns; an import reads at most "
            f"{MAX_COLUMNS}. Keep the columns to import."
        )
    return table


# --- CSV ---------------------------------------------------------------------------------


def _read_csv(data: bytes) -> Table:
    if b"\x00" in data:
        raise FileRefused(
            "This file is not a CSV or XLSX file (it holds binary data): upload a CSV "
            "file or an Excel workbook (.xlsx)."
        )
    try:
        data.decode("utf-8-sig")  # the whole file checked once; rows are decoded as read
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"The file is not UTF-8 text (byte {exc.start + 1:,} cannot be read). "
            'Imports take CSV files in UTF-8: in Excel, save as "CSV UTF-8 (Comma '
            'delimited)"; in LibreOffice, choose the character set "Unicode (UTF-8)".'
        ) from None
    sample = data[: 64 * 1024].decode("utf-8-sig", errors="ignore")  # may cut a character
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = next((d for d in DELIMITERS if d in first), ",")

    def lines() -> Iterable[list[str]]:
        # Decoded a block at a time: a ``StringIO`` of the text would hold four bytes
        # per character of the whole file while the rows are read.
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        return csv.reader(text, delimiter=delimiter, strict=False)

    try:
        headers, count = _header_and_count(lines())
    except csv.Error as exc:
        raise FileRefused(f"The CSV file cannot be read: {exc}.") from None
    return Table(CSV, headers, Rows(lines, count), delimiter)


def _header_and_count(lines: Iterable[list[str]]) -> tuple[list[str], int]:
    """The first non-blank line as the header, and how many non-blank lines follow it."""
    headers: list[str] | None = None
    count = 0
    for cells in lines:
        if not any(cell.strip() for cell in cells):
            continue
        if headers is None:
            headers = [cell.strip() for cell in cells]
            continue
        if count >= MAX_ROWS:
            raise FileRefused(
                f"The file has more than {MAX_ROWS:,} rows, the most an import takes. "
                "Split it into smaller files."
            )
        count += 1
    return headers or [], count


# --- XLSX --------------------------------------------------------------------------------


def check_archive(data: bytes, limits: Limits) -> None:
    """Refuse a zip archive that is not a workbook, or that would unpack too large."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise FileRefused(
            "The file looks like an Excel workbook but is damaged or is not one: "
            "open it in Excel or LibreOffice and save it again as .xlsx."
        ) from None
    with archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        if "xl/workbook.xml" not in names:
            raise FileRefused(
                "This zip archive is not an Excel workbook (.xlsx): upload a CSV file "
                "or an .xlsx workbook."
            )
        if len(entries) > MAX_ZIP_ENTRIES:
            raise FileRefused(
                f"The workbook holds {len(entries):,} parts; an import takes at most "
                f"{MAX_ZIP_ENTRIES:,}. It is not a plain spreadsheet."
            )
        unpacked = sum(entry.file_size for entry in entries)
        if unpacked > limits.max_unpacked_bytes:
            raise FileRefused(
                f"The workbook would unpack to {unpacked:,} bytes, more than the "
                f"{limits.max_unpacked_bytes:,} an import allows: it was not opened. "
                "Split it, or save it as CSV UTF-8."
            )
        for entry in entries:
            if entry.file_size < RATIO_CHECKED_FROM:
                continue
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                raise FileRefused(
                    f"The workbook part {entry.filename[:80]} is compressed {ratio:,.0f} "
                    f"times (a real spreadsheet is compressed at most {limits.max_ratio} "
                    "times): this looks like a zip bomb, so it was not opened."
                )


def cell_text(value: Any) -> str:
    """A spreadsheet cell's value as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return str(Decimal(repr(value)))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes, limits: Limits) -> Table:
    check_archive(data, limits)
    try:
        headers, count = _header_and_count(_sheet_lines(data))
    except FileRefused:
        raise
    except _Unreadable as exc:
        raise FileRefused(str(exc)) from None
    except Exception:  # noqa: BLE001 - a damaged sheet part
        raise FileRefused(
            "The workbook's first sheet cannot be read: save it again as .xlsx or CSV UTF-8."
        ) from None
    return Table(XLSX, headers, Rows(lambda: _sheet_lines(data), count))


class _Unreadable(Exception):
    """The workbook cannot be opened, or has no sheet (the message says which)."""


def _sheet_lines(data: bytes) -> Iterator[list[str]]:
    """The first worksheet's rows as text, the workbook open only while they are read."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
        raise _Unreadable(
            "The workbook cannot be read: open it in Excel or LibreOffice and save it "
            "again as .xlsx, or save it as CSV UTF-8."
        ) from None
    try:
        if not workbook.worksheets:
            raise _Unreadable("The workbook has no worksheet: there is nothing to import.")
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield [cell_text(value) for value in values]
    finally:
        workbook.close()
