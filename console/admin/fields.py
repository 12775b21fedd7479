"""Small form helpers shared by the model views, and how model columns become form fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField
from flask_admin.model.form import converts
from flask_babel import LazyString, gettext, lazy_gettext
from wtforms import DecimalField
from wtforms.form import BaseForm
from wtforms.validators import DataRequired, InputRequired, ValidationError

from console.localtime import to_local, to_utc


def strip(value: object) -> object:
    """Trim surrounding spaces of a text input; empty text becomes None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def lower(value: object) -> object:
    """Lower-case a text input (e-mail addresses are compared case-insensitively)."""
    return value.lower() if isinstance(value, str) else value


class FiniteDecimalField(DecimalField):
    """A decimal input that refuses NaN, sNaN and Infinity with a message on the field.

    ``Decimal("sNaN")`` and ``Decimal("NaN")`` parse, and then make every comparison
    (``NumberRange``) raise instead of failing validation.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Enter a number (NaN and Infinity are not amounts)."))


def known_choices(form: Any, field: Any) -> None:
    """Refuse submitted values that are not among the field's choices.

    Flask-Admin's ``QuerySelectMultipleField`` checks its submitted ids only after
    reading its data, which its own validation does too late: an unknown id was
    silently dropped (and so "saved" as no selection).
    """
    offered = {str(choice[0]) for choice in field.iter_choices()}
    unknown = [value for value in field.raw_data or () if str(value) not in offered]
    if unknown:
        shown = ", ".join(repr(value[:20]) for value in unknown[:5])
        raise ValidationError(
            gettext("Not a valid choice: %(choices)s. Nothing was changed.", choices=shown)
        )


class TrimmingModelConverter(AdminModelConverter):
    """Text fields are trimmed, and a required one must hold more than spaces.

    Flask-Admin marks a NOT NULL column ``InputRequired``, which looks at the raw
    input: "   " passes it, the trimmed value is empty and the database then refuses
    the row with a generic message. Here every string field is trimmed first
    (``strip``) and a required one asks ``DataRequired``, which looks at the trimmed
    value, so the person reads "required" on the field itself.
    """

    @staticmethod
    def _trimmed(field_args: dict[str, Any]) -> None:
        filters = list(field_args.get("filters") or [])
        if strip not in filters:
            filters.insert(0, strip)
        field_args["filters"] = filters
        field_args["validators"] = [
            DataRequired(
                message=lazy_gettext("This field is required (spaces alone do not count).")
            )
            if isinstance(validator, InputRequired)
            else validator
            for validator in field_args.get("validators") or []
        ]

    @converts("String")
    def conv_String(self, column: Any, field_args: dict[str, Any], **extra: Any) -> Any:
        self._trimmed(field_args)
        return super().conv_String(column=column, field_args=field_args, **extra)

    @converts("Text", "LargeBinary", "Binary", "CIText")
    def conv_Text(self, field_args: dict[str, Any], **extra: Any) -> Any:
        self._trimmed(field_args)
        return super().conv_Text(field_args=field_args, **extra)


def decimal_places(value: Decimal) -> int:
    """The decimals ``value`` really has (``4.900`` has 1), read from its digits: no
    arithmetic, which a number past the context's precision would refuse."""
    _sign, digits, exponent = value.as_tuple()
    places = -exponent if isinstance(exponent, int) else 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(places - trailing_zeros, 0)


def in_cents(form: Any, field: Any) -> None:
    """Refuse an amount with more than two decimals (the database would round it)."""
    if field.data is not None and field.data.is_finite() and decimal_places(field.data) > 2:
        raise ValidationError(gettext("Use at most two decimals (cents), such as 4.90."))


def unused_ignoring_case(model: Any, attribute: str, what: str) -> Any:
    """A validator refusing a value another ``model`` record has in ``attribute``,
    whatever the case of either; ``what`` names the value in the message."""

    def check(form: Any, field: Any) -> None:
        if not field.data:
            return
        from sqlalchemy import func, select

        from console.database import db

        column = getattr(model, attribute)
        query = select(model).where(func.lower(column) == str(field.data).lower())
        current = getattr(form, "_obj", None)
        if current is not None and current.id is not None:
            query = query.where(model.id != current.id)
        if db.session.scalars(query.limit(1)).first() is not None:
            raise ValidationError(
                gettext(
                    "Already exists: another record has this %(what)s (upper or lower case alike).",
                    what=what,
                )
            )

    return check


class LocalDateTimeField(DateTimeField):
    """A date and time typed and shown in the person's time zone, kept as naive UTC.

    Every stored time is UTC (``console.localtime``); the form shows it in the person's
    zone and reads what they type in that zone, so "valid from 09:00" is their 09:00.
    """

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        if self.data is None:
            return ""
        return to_local(self.data).strftime(self.format[0])

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = to_utc(self.data)


def plain_errors(fields: Any) -> None:
    """Turn the lazily translated messages of ``fields`` (a form, or a list of fields)
    and of their nested forms and entries into text in the reader's language; other
    messages stay as they are."""
    for field in fields:
        nested = getattr(field, "form", None)
        if isinstance(nested, BaseForm):
            plain_errors(nested)
        plain_errors(getattr(field, "entries", None) or ())
        if isinstance(field.errors, list):
            field.errors = [str(e) if isinstance(e, LazyString) else e for e in field.errors]
