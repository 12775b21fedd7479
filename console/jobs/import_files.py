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

A file is read from a ``Source``: the upload's bytes (``InMemory``) or the file an
import keeps in the database (``console.services.imports.StoredFile``), read a block
at a time. Every check and every pass over the rows reads blocks of ``BLOCK`` bytes
and decodes them as they come (an incremental UTF-8 decoder, ``io.TextIOWrapper``), so
that no second whole copy of the file, bytes or text, is ever made: what an import
holds does not grow with its file (bench/RESULTS.md, "Memory as the file grows").
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, Protocol

from flask_babel import gettext

from console.i18n import format_count
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
BLOCK = 64 * 1024
"""Bytes read (and decoded) at a time; also the sample the CSV delimiter is found in."""
BLANK = b" \t\r\n\xef\xbb\xbf"
"""Bytes of a file that holds nothing: spaces, line ends, a byte-order mark."""


class Source(Protocol):
    """A file to read, as many times as needed, from its start."""

    @property
    def size(self) -> int: ...

    def open(self) -> BinaryIO:
        """A new binary stream over the file (seekable), to be closed by the reader."""
        ...


@dataclass(frozen=True)
class InMemory:
    """A file whose bytes are in memory (an upload)."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)  # shares the bytes (CPython copies only on a write)


def blocks(source: Source) -> Iterator[bytes]:
    """The file's bytes, ``BLOCK`` at a time."""
    with source.open() as stream:
        while block := stream.read(BLOCK):
            yield block


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


def read_table(data: bytes | Source, limits: Limits) -> Table:
    """The rows of ``data`` (CSV or XLSX); ``FileRefused`` with the reason otherwise."""
    source: Source = InMemory(data) if isinstance(data, bytes) else data
    if source.size > limits.max_bytes:
        raise FileRefused(
            gettext(
                "The file is %(size)s bytes; imports take files of up to %(most)s bytes. "
                "Split it into smaller files.",
                size=format_count(source.size),
                most=format_count(limits.max_bytes),
            )
        )
    head = next(blocks(source), b"")
    if head.startswith(ZIP_MAGIC):
        table = _read_xlsx(source, limits)
    elif head.startswith(OLE_MAGIC):
        raise FileRefused(
            gettext(
                "This is an old Excel file (.xls), which is not imported: save it as "
                "Excel Workbook (.xlsx) or CSV UTF-8 and upload that."
            )
        )
    else:
        table = _read_csv(source, head)
    if not any(header.strip() for header in table.headers):
        raise FileRefused(gettext("The file is empty: there is nothing to import."))
    if not table.rows:
        raise FileRefused(
            gettext("The file has a header row but no data rows: there is nothing to import.")
        )
    if len(table.headers) > MAX_COLUMNS:
        raise FileRefused(
            gettext(
                "The file has %(columns)s columns; an import reads at most %(most)s. Keep the "
                "columns to import.",
                columns=format_count(len(table.headers)),
                most=format_count(MAX_COLUMNS),
            )
        )
    return table


# --- CSV ---------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one pass over a text file's bytes found (``_scan``)."""

    blank: bool = True
    binary: bool = False
    undecodable_at: int | None = None
    """The first byte (from 0) that is not UTF-8, if any."""


def _scan(source: Source) -> _Scan:
    """Whether the file holds anything, NUL bytes, or bytes that are not UTF-8.

    Decoded a block at a time by an incremental decoder, which carries a character cut
    by a block's end over to the next block: the file is never decoded whole.
    """
    scan = _Scan()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    for block in blocks(source):
        if scan.blank and block.translate(None, BLANK):
            scan.blank = False
        if b"\x00" in block:
            scan.binary = True
        if scan.undecodable_at is None:
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # ``exc.start`` counts from the bytes held back from the last block.
                scan.undecodable_at = offset - pending + exc.start
        offset += len(block)
    if scan.undecodable_at is None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:  # the file ends inside a character
            scan.undecodable_at = offset - pending + exc.start
    return scan


def _read_csv(source: Source, head: bytes) -> Table:
    scan = _scan(source)
    if scan.blank:
        raise FileRefused(gettext("The file is empty: there is nothing to import."))
    if scan.binary:
        raise FileRefused(
            gettext(
                "This file is not a CSV or XLSX file (it holds binary data): upload a CSV "
                "file or an Excel workbook (.xlsx)."
            )
        )
    if scan.undecodable_at is not None:
        raise FileRefused(
            gettext(
                "The file is not UTF-8 text (byte %(byte)s cannot be read). Imports take CSV "
                'files in UTF-8: in Excel, save as "CSV UTF-8 (Comma delimited)"; in '
                'LibreOffice, choose the character set "Unicode (UTF-8)".',
                byte=format_count(scan.undecodable_at + 1),
            )
        )
    sample = head.decode("utf-8-sig", errors="ignore")  # may cut a character
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = next((d for d in DELIMITERS if d in first), ",")

    def lines() -> Iterator[list[str]]:
        # Decoded a block at a time, as read: neither the text nor the bytes whole.
        with io.TextIOWrapper(source.open(), encoding="utf-8-sig", newline="") as text:
            yield from csv.reader(text, delimiter=delimiter, strict=False)

    try:
        headers, count = _header_and_count(lines())
    except csv.Error as exc:
        raise FileRefused(gettext("The CSV file cannot be read: %(reason)s.", reason=exc)) from None
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
                gettext(
                    "The file has more than %(most)s rows, the most an import takes. Split "
                    "it into smaller files.",
                    most=format_count(MAX_ROWS),
                )
            )
        count += 1
    return headers or [], count


# --- XLSX --------------------------------------------------------------------------------


def check_archive(source: Source, limits: Limits) -> None:
    """Refuse a zip archive that is not a workbook, or that would unpack too large."""
    with source.open() as stream:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError):
            raise FileRefused(
                gettext(
                    "The file looks like an Excel workbook but is damaged or is not one: "
                    "open it in Excel or LibreOffice and save it again as .xlsx."
                )
            ) from None
        _check_entries(archive, limits)


def _check_entries(archive: zipfile.ZipFile, limits: Limits) -> None:
    with archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        if "xl/workbook.xml" not in names:
            raise FileRefused(
                gettext(
                    "This zip archive is not an Excel workbook (.xlsx): upload a CSV file "
                    "or an .xlsx workbook."
                )
            )
        if len(entries) > MAX_ZIP_ENTRIES:
            raise FileRefused(
                gettext(
                    "The workbook holds %(parts)s parts; an import takes at most %(most)s. "
                    "It is not a plain spreadsheet.",
                    parts=format_count(len(entries)),
                    most=format_count(MAX_ZIP_ENTRIES),
                )
            )
        unpacked = sum(entry.file_size for entry in entries)
        if unpacked > limits.max_unpacked_bytes:
            raise FileRefused(
                gettext(
                    "The workbook would unpack to %(size)s bytes, more than the %(most)s an "
                    "import allows: it was not opened. Split it, or save it as CSV UTF-8.",
                    size=format_count(unpacked),
                    most=format_count(limits.max_unpacked_bytes),
                )
            )
        for entry in entries:
            if entry.file_size < RATIO_CHECKED_FROM:
                continue
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                raise FileRefused(
                    gettext(
                        "The workbook part %(part)s is compressed %(ratio)s times (a real "
                        "spreadsheet is compressed at most %(most)s times): this looks like "
                        "a zip bomb, so it was not opened.",
                        part=entry.filename[:80],
                        ratio=format_count(round(ratio)),
                        most=format_count(limits.max_ratio),
                    )
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


def _read_xlsx(source: Source, limits: Limits) -> Table:
    check_archive(source, limits)
    try:
        headers, count = _header_and_count(_sheet_lines(source))
    except FileRefused:
        raise
    except _Unreadable as exc:
        raise FileRefused(str(exc)) from None
    except Exception:  # noqa: BLE001 - a damaged sheet part
        raise FileRefused(
            gettext(
                "The workbook's first sheet cannot be read: save it again as .xlsx or CSV UTF-8."
            )
        ) from None
    return Table(XLSX, headers, Rows(lambda: _sheet_lines(source), count))


class _Unreadable(Exception):
    """The workbook cannot be opened, or has no sheet (the message says which)."""


def _sheet_lines(source: Source) -> Iterator[list[str]]:
    """The first worksheet's rows as text, the workbook open only while they are read."""
    import openpyxl

    with source.open() as stream:
        try:
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=False)
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
            raise _Unreadable(
                gettext(
                    "The workbook cannot be read: open it in Excel or LibreOffice and save "
                    "it again as .xlsx, or save it as CSV UTF-8."
                )
            ) from None
        try:
            if not workbook.worksheets:
                raise _Unreadable(
                    gettext("The workbook has no worksheet: there is nothing to import.")
                )
            for values in workbook.worksheets[0].iter_rows(values_only=True):
                yield [cell_text(value) for value in values]
        finally:
            workbook.close()
