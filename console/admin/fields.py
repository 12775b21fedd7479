"""Small form helpers shared by the model views."""

from __future__ import annotations

from typing import Any

from wtforms import DecimalField
from wtforms.validators import ValidationError


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
