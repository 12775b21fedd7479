"""How a recorded value reads to a person (the audit view, the stale-edit message).

The trail stores values exactly: times in ISO 8601 with microseconds, references as
``label (#id)``, booleans as JSON. People read times to the minute, records by their
label (ids are internal) and Yes/No. The CSV export keeps the stored values.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

EMPTY = "(empty)"

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")
_REFERENCE_ID = re.compile(r" \(#\d+\)$")
_DELETED_REFERENCE = re.compile(r"^#\d+ \(deleted\)$")


def shown(value: Any) -> str:
    """``value`` as a person reads it in a diff."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if _ISO_TIME.match(text):
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return text
    if _DELETED_REFERENCE.match(text):
        return "(a deleted record)"
    return _REFERENCE_ID.sub("", text)


def field_name(name: str) -> str:
    """A recorded field's name as a label: ``decided_by`` -> ``decided by``."""
    return name.replace("_", " ")
