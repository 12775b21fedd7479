"""Row ids as the database can hold them.

Every primary key of the console is a 32-bit ``integer`` column: PostgreSQL refuses a
larger number in a query on it (and SQLite anything past 64 bits), so a number typed
or forged beyond that range can only mean "no such record" and must never reach SQL.
"""

from __future__ import annotations

from typing import Any

MAX_ID = 2**31 - 1
"""The largest id an ``integer`` primary key holds."""


def row_id(value: Any) -> int | None:
    """``value`` (an int or its text) as a row id, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            return None
    return number if 0 < number <= MAX_ID else None
