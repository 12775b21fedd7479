"""Reading an import file a block at a time: from the upload and from the database.

An import's file is read several times (counted, its keys, its rows), each time a
block at a time and decoded as it comes: a character cut by a block's end must read
as itself, an undecodable byte must be named at its true place, and no pass may hold a
second whole copy of the file (its bytes or its text).
"""

from __future__ import annotations

import tracemalloc

import pytest

from console.database import db
from console.jobs import imports as engine
from console.jobs.import_files import BLOCK, FileRefused, read_table
from console.models import ImportFilePart
from console.services import imports as import_service
from tests.factories import StaffFactory

LIMITS = engine.Limits(max_bytes=50_000_000, max_unpacked_bytes=1, max_ratio=1)


def split_file() -> bytes:
    """A CSV file whose "é" (two bytes) straddles the end of its first block."""
    data = b"SKU,Name,Unit price\n"
    data += b"F-1,Filler,1.00\n" * ((BLOCK - len(data) - 100) // 16)
    # A row padded so that the next row's "é" starts on the block's last byte.
    data += b"P-1," + b"x" * (BLOCK - 1 - len(data) - len(b"P-1,,1\nSPLIT-1,Caf")) + b",1\n"
    data += "SPLIT-1,Café,2.00\n".encode()
    assert data.index("é".encode()) == BLOCK - 1
    return data


def rows_of(table) -> list[list[str]]:
    return [cells for _line, cells in table.rows]


def test_a_character_cut_by_a_block_end_reads_as_itself():
    data = split_file()
    table = read_table(data, LIMITS)
    assert rows_of(table)[-1] == ["SPLIT-1", "Café", "2.00"]
    assert len(table.rows) == len(rows_of(table))


def test_an_undecodable_byte_is_named_at_its_place_past_a_block_end():
    data = split_file() + b"BAD-1,M\xfcller,1.00\n"
    place = data.index(b"\xfc") + 1
    with pytest.raises(FileRefused, match=f"byte {place:,} cannot be read"):
        read_table(data, LIMITS)
    # A file ending inside a character: the cut character's first byte is named.
    data = split_file() + b"END-1,Caf\xc3"
    with pytest.raises(FileRefused, match=f"byte {len(data):,} cannot be read"):
        read_table(data, LIMITS)


def big_file(rows: int = 60_000) -> bytes:
    lines = ["SKU,Name,Unit price"] + [f"BIG-{n:06d},Product {n},{n % 100}.50" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def traced_peak(work) -> int:
    """The most memory Python held above where it started while ``work()`` ran."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        work()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def every_pass(table) -> None:
    for _row in table.rows:
        pass


def test_reading_an_upload_holds_no_second_copy_of_it():
    data = big_file()
    assert len(data) > 1_500_000
    peak = traced_peak(lambda: every_pass(read_table(data, LIMITS)))
    assert peak < len(data) / 4, f"{peak:,} bytes held for a file of {len(data):,}"


def test_the_stored_file_is_read_from_the_database_a_block_at_a_time(app):
    data = big_file()
    owner = StaffFactory(email="boss@staff.test", role="manager")
    batch = import_service.store(
        db.session, owner, "products", file_name="big.csv", file_format="csv", data=data,
        headers=["SKU", "Name", "Unit price"], rows=60_000,
        mapping={"sku": 0, "name": 1, "unit_price": 2},
    )  # fmt: skip
    db.session.expire_all()
    tables = []
    peak = traced_peak(lambda: tables.append(engine.table_of(app, batch)) or every_pass(tables[0]))
    # What is held is a part or two of the file, whatever its size.
    assert len(data) > 6 * ImportFilePart.PART_BYTES
    assert peak < 3 * ImportFilePart.PART_BYTES, f"{peak:,} bytes held for {len(data):,}"
    table = tables[0]
    assert table.headers == ["SKU", "Name", "Unit price"] and len(table.rows) == 60_000
    rows = rows_of(table)
    assert rows[0] == ["BIG-000000", "Product 0", "0.50"]
    assert rows[-1] == ["BIG-059999", "Product 59999", "99.50"]
    # Each pass reads the file again, from its start.
    assert rows_of(table) == rows
