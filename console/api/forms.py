"""Input checked by the console's own forms, so that no rule is written twice.

The API's schemas check shapes (types, lengths, ranges); what a record's values must
be (a valid e-mail, a SKU no other product has, a price in cents, an active tax rate)
is checked by the create form of the record's list in the console, with only the
fields the request sends, as an import checks a file's rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app
from werkzeug.datastructures import MultiDict

from console.admin.registry import find_view
from console.services.errors import DomainError


class InvalidFields(DomainError):
    """The console's form refused values; ``errors`` says why, by the API's field names."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(
            "Some values are not acceptable: "
            + " ".join(m for messages in errors.values() for m in messages)
        )


FIELD_NAMES = {"tax_rate_id": "tax_rate"}
"""The API's field name -> the console form's."""


def _formdata(values: dict[str, Any]) -> MultiDict:
    data: MultiDict = MultiDict()
    for name, value in values.items():
        if isinstance(value, bool):
            if value:
                data[name] = "y"
        elif value is None:
            data[name] = ""
        elif isinstance(value, Decimal):
            data[name] = f"{value:f}"
        else:
            data[name] = str(value)
    return data


def checked(endpoint: str, values: dict[str, Any], record: Any = None) -> dict[str, Any]:
    """``values`` as the console's form of list ``endpoint`` cleans them (attribute ->
    value); raises ``InvalidFields`` (422 by field) with the form's messages."""
    view = find_view(current_app, endpoint)
    if view is None:  # pragma: no cover - the console always has these lists
        raise DomainError(f"The console has no {endpoint} list.")
    form_values = {FIELD_NAMES.get(name, name): value for name, value in values.items()}
    form_class = view.get_create_form()
    fields = [n for n in dir(form_class) if hasattr(getattr(form_class, n, None), "_formfield")]
    unused = {name: None for name in fields if name not in form_values}
    form = type(f"Api{form_class.__name__}", (form_class,), unused)(formdata=MultiDict())
    form._obj = record  # what the uniqueness checks compare with, as on the edit page
    form.process(formdata=_formdata(form_values), obj=record)
    if not form.validate():
        api_names = {form_name: api for api, form_name in FIELD_NAMES.items()}
        raise InvalidFields(
            {
                api_names.get(name, name): [str(m) for m in messages]
                for name, messages in form.errors.items()
            }
        )
    return {name: form[name].data for name in form_values}
