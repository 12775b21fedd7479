"""Small form helpers shared by the model views, and how model columns become form fields."""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from wtforms import DecimalField
from wtforms.validators import DataRequired, InputRequired, ValidationError


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
        raise ValidationError(f"Not a valid choice: {shown}. Nothing was changed.")


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
            DataRequired(message="This field is required (spaces alone do not count).")
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
