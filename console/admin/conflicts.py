"""An edit conflict, as the edit page shows it: the person's entries beside the record's.

When a save is refused because someone else changed the record meanwhile
(``console.admin.concurrency``), the page compares, field by field, what the person
submitted with the record's current values, in words a person reads (a customer's name,
not its id; an order's lines one per row). The person's entries travel with the page,
so that "Use my entries" can put them back into the form on top of the current version
without anything being saved until the person presses Save.

This module only reads forms: it knows nothing of requests or of the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable
from wtforms import Form
from wtforms.fields import Field, FieldList, FormField, HiddenField, PasswordField

from console import localtime
from console.audit.display import EMPTY

NO_ENTRIES = "(none)"
"""How an empty list of parts (an order without lines) reads."""

CONTROL_NAMES = frozenset({"csrf_token", "version", "_add_another", "_continue_editing"})
"""Posted names that are not the person's entries: the token, the version, the buttons."""


@dataclass(frozen=True)
class ConflictRow:
    """One field whose submitted value differs from the record's current one."""

    name: str
    label: str
    mine: list[str]
    """The person's entry, as text (one item per part for a list of parts)."""
    current: list[str]
    changed_meanwhile: bool
    """True when the change that caused the conflict touched this field."""


@dataclass(frozen=True)
class EditConflict:
    """What the edit page shows after a refused save (or after "Use my entries")."""

    version: int | None
    """The record's version the page is based on: the next Save is checked against it."""
    opened_version: int | None
    """The version the person's entries were typed on (to say what changed since)."""
    rows: list[ConflictRow]
    entries: list[tuple[str, str]]
    """The person's posted entries, carried in the page for "Use my entries"."""
    chosen: frozenset[str]
    """Fields whose "use mine" box is ticked."""
    reapplied: bool = False
    """True when the form below already holds the person's chosen entries."""
    left_out: list[str] = field(default_factory=list)
    """Labels of fields that cannot travel in the page (passwords): to be typed again."""


def comparable_fields(form: Form) -> list[Field]:
    """The form's fields a person edits and that can be compared, in form order."""
    return [f for f in form if not _skipped(f)]


def _skipped(form_field: Field) -> bool:
    # Hidden fields carry the version, the CSRF token and inline forms' primary keys;
    # passwords are never shown back.
    return isinstance(form_field, HiddenField | PasswordField) or form_field.type in {
        "CSRFTokenField",
        "VersionField",
    }


def compare(
    mine: Form,
    current: Form,
    changed: Iterable[str],
    list_label: Callable[[str], str] | None = None,
) -> list[ConflictRow]:
    """The rows where ``mine`` (the person's form) differs from ``current`` (the record's).

    ``changed`` names the fields the other person's change touched. A row is labelled
    like the form field, except a list of parts, whose form label names one part
    ("Line"): ``list_label(name)`` names the list ("Lines").
    """
    touched = set(changed)
    rows: list[ConflictRow] = []
    for theirs in comparable_fields(mine):
        now = current._fields.get(theirs.name)
        if now is None or comparable(theirs) == comparable(now):
            continue
        rows.append(
            ConflictRow(
                name=theirs.name,
                label=(
                    list_label(theirs.name)
                    if list_label is not None and isinstance(theirs, FieldList)
                    else str(theirs.label.text)
                ),
                mine=readable(theirs),
                current=readable(now),
                changed_meanwhile=theirs.name in touched,
            )
        )
    return rows


def default_choice(rows: Iterable[ConflictRow]) -> frozenset[str]:
    """The fields "Use my entries" takes unless the person says otherwise.

    The person's own edits, yes; a field the other person changed, only when the person
    ticks it: re-applying an untouched field's old value would silently undo their work.
    """
    return frozenset(row.name for row in rows if not row.changed_meanwhile)


def carried_entries(formdata: Mapping[str, Any] | Any, form: Form) -> list[tuple[str, str]]:
    """The person's posted values to carry in the page, as ``(name, value)`` pairs.

    Leaves out the CSRF token, the version, the buttons, names starting with ``_``
    (the conflict form's own) and password fields.
    """
    secret = {f.name for f in form if isinstance(f, PasswordField)}
    return [
        (name, value)
        for name, value in formdata.items(multi=True)
        if name not in CONTROL_NAMES and not name.startswith("_") and name not in secret
    ]


def left_out_fields(form: Form) -> list[str]:
    """Labels of the fields ``carried_entries`` leaves out."""
    return [str(f.label.text) for f in form if isinstance(f, PasswordField)]


# --- values ---------------------------------------------------------------------------


def comparable(form_field: Field) -> Any:
    """A value equal for equal entries, whatever their spelling ("10.0" and "10.00")."""
    if isinstance(form_field, FieldList):
        return tuple(comparable(entry) for entry in _kept_entries(form_field))
    if isinstance(form_field, FormField):
        return tuple((sub.name, comparable(sub)) for sub in form_field.form if not _skipped(sub))
    return _key(form_field.data)


def _key(value: Any) -> Any:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        # Browsers post a textarea's line breaks as CRLF.
        return value.replace("\r\n", "\n")
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(_key(item) for item in value)
    try:
        state = sa_inspect(value)
    except NoInspectionAvailable:
        return value
    return (type(value).__name__, state.identity) if state.identity else id(value)


def readable(form_field: Field) -> list[str]:
    """The field's value as a person reads it; a list of parts gives one text per part."""
    if isinstance(form_field, FieldList):
        return [_entry_text(entry) for entry in _kept_entries(form_field)] or [NO_ENTRIES]
    return [_text(form_field, form_field.data)]


def _entry_text(entry: Field) -> str:
    if not isinstance(entry, FormField):
        return _text(entry, entry.data)
    parts = [f"{sub.label.text}: {_text(sub, sub.data)}" for sub in entry.form if not _skipped(sub)]
    return "; ".join(parts)


def _kept_entries(form_field: FieldList) -> list[Field]:
    """The list's entries, without those the person marked for deletion."""
    return [entry for entry in form_field.entries if not getattr(entry, "_should_delete", False)]


def _text(form_field: Field, value: Any) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(_text(form_field, item) for item in value)) or EMPTY
    if isinstance(value, dt.datetime):
        return localtime.show(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    choices = getattr(form_field, "choices", None)
    if isinstance(choices, list | tuple):
        labels = {str(choice[0]): str(choice[1]) for choice in choices if len(choice) >= 2}
        return labels.get(str(value), str(value))
    return str(value)
