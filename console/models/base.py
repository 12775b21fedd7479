"""Column helpers shared by the models."""

from __future__ import annotations

import datetime as dt
import enum
from functools import lru_cache
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_security import naive_utcnow
from sqlalchemy import func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> dt.datetime:
    """The current time in UTC, naive, as every timestamp column stores it."""
    return naive_utcnow()


def label_of(vocabulary: type[enum.Enum], value: Any) -> str:
    """How a stored ``value`` of ``vocabulary`` (an enum whose members have a ``label``)
    reads on a page, in the reader's language; a value outside the vocabulary (an older
    or a service's own word) reads as stored. The stored value itself never changes."""
    if value is None or value == "":
        return ""
    try:
        member = vocabulary(value)
    except ValueError:
        return str(value)
    return _translated_label(get_locale(), member)


@lru_cache(maxsize=512)
def _translated_label(locale: Locale | None, member: enum.Enum) -> str:
    """``member``'s label as ``locale`` reads it (``get_locale()``: the one being written
    in), translated once per process. A list shows a label on every row (an order's
    status), and translating a lazy string walks Flask-Babel's look-ups each time; the
    catalogues do not change while the process runs."""
    return str(member.label)  # type: ignore[attr-defined]


def word_of(vocabulary: type[enum.Enum], value: Any) -> str:
    """The label of ``value`` as a word inside a sentence: "Order 7 is approved",
    "Bestellung 7 ist genehmigt" (the labels are participles and adjectives)."""
    return label_of(vocabulary, value).lower()


class TimestampMixin:
    """``created_at`` and ``updated_at`` in UTC, kept by the database and the ORM."""

    created_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp(), index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp(), onupdate=utcnow
    )


class VersionedMixin:
    """A row version, bumped by SQLAlchemy on every UPDATE of the row.

    An UPDATE based on a stale version matches no row and fails instead of silently
    overwriting someone else's change.
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:  # noqa: N805 - SQLAlchemy's declared_attr signature
        return {"version_id_col": cls.version}
