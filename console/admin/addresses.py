"""Addresses in the console: the address book inline, the order form's pickers.

- ``CustomerAddressInline``: the customer's address book, edited on the customer's page
  (like an order's lines), each address with its "default billing / shipping" boxes.
- ``CountryField``: a country chosen from ISO 3166's list ("France (FR)"); a code the
  list does not have is refused on the field.
- ``OrderAddressFormMixin``: the order form's "Billing address" and "Shipping address"
  pickers, listing the chosen customer's addresses, the customer's default, or a
  one-off address typed in the fields below. ``console/static/js/addresses.js`` fills
  them when the customer changes; without it, the server takes the defaults.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import pycountry
from flask import url_for
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext, lazy_gettext
from markupsafe import Markup, escape
from wtforms import SelectField
from wtforms.fields.choices import Choice
from wtforms.validators import DataRequired, InputRequired, StopValidation
from wtforms.widgets import Select, html_params

from console.models import Order, PostalAddress
from console.models.addresses import (
    ADDRESS_FIELDS,
    ADDRESS_KINDS,
    FIELD_LABELS,
    REQUIRED_FIELDS,
    country_name,
    unknown_country_message,
)
from console.services import addresses as address_service

NO_ADDRESS = "No address recorded"
"""What an order taken before the address book (or for a customer without one) shows."""

CUSTOMER_DEFAULT = ""
"""Picker value: the customer's default address of the kind."""

TYPED = "typed"
"""Picker value: the address typed in the fields below the picker."""

PICKER_LABELS = {
    CUSTOMER_DEFAULT: lazy_gettext("The customer's default address"),
    TYPED: lazy_gettext("The address typed below (one-off)"),
}
"""The picker's fixed choices; addresses.js keeps them when it lists another book."""


def _book_label(address: Any, kind: str) -> str:
    """An address of the book as its picker lists it, marked when it is the default."""
    if address.is_default(kind):
        return gettext("%(label)s (default)", label=str(address))
    return str(address)


@cache
def country_choices() -> tuple[tuple[str, str], ...]:
    """Every ISO 3166-1 country as ``(code, "Name (CODE)")``, sorted by name."""
    countries = [
        (country.alpha_2, f"{country_name(country.alpha_2)} ({country.alpha_2})")
        for country in pycountry.countries
    ]
    return tuple(sorted(countries, key=lambda choice: choice[1]))


COUNTRY_PLACEHOLDER = ("", "Choose a country")


@lru_cache(maxsize=1024)
def _rendered_option(value: str, label: str, selected: bool) -> Markup:
    return Select.render_option(Choice(value, label, selected, {}))


@cache
def _country_options() -> tuple[str, dict[str, tuple[str, str]]]:
    """The options of a country list, none selected, as one text; and for each value its
    option unselected and selected, to mark the one a form holds."""
    pieces = {
        value: (
            str(_rendered_option(value, label, False)),
            str(_rendered_option(value, label, True)),
        )
        for value, label in (COUNTRY_PLACEHOLDER, *country_choices())
    }
    return "".join(unselected for unselected, _selected in pieces.values()), pieces


class CountrySelect(Select):
    """WTForms' select whose options are rendered once per process.

    An order's form shows two lists of the 250 countries; rendering their options one
    by one (WTForms' ``html_params`` and ``Markup`` for each) was half of the edit
    page's CPU time, and reading the 250 choices again for each list (twice: for its
    groups, then its options) a tenth of what remained. The options are the same on
    every form but for the one selected: a ``CountryField`` still offering the whole
    list gets them as one text, with its country marked; any other field is rendered
    option by option as WTForms does, each option kept once rendered.
    """

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        if self.multiple or not isinstance(field, CountryField) or not field.offers_every_country:
            return super().__call__(field, **kwargs)
        # The opening tag as WTForms writes it (Select.__call__).
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for name in dir(flags):
            if name in self.validation_attrs and name not in kwargs:
                kwargs[name] = getattr(flags, name)
        options, pieces = _country_options()
        chosen = pieces.get(field.data) if isinstance(field.data, str) else None
        if chosen is not None:
            options = options.replace(chosen[0], chosen[1], 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")

    @classmethod
    def render_option(cls, choice: Choice, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw or not type(choice.value) is type(choice.label) is str:
            return super().render_option(choice, **kwargs)
        return _rendered_option(choice.value, choice.label, bool(choice.selected))


class CountryField(SelectField):
    """A country picked from ISO 3166's list, stored as its two-letter code.

    A posted code is trimmed and upper-cased; one that is not on the list gets a
    message on the field (never WTForms' bare "Not a valid choice"). A required
    column asks for a country with a message of its own.
    """

    widget = CountrySelect()

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.pop("filters", None)
        kwargs.pop("coerce", None)
        kwargs.pop("choices", None)
        validators = [
            DataRequired(message=lazy_gettext("Choose the country."))
            if isinstance(validator, InputRequired | DataRequired)
            else validator
            for validator in validators or []
        ]
        super().__init__(
            label,
            validators,
            choices=[COUNTRY_PLACEHOLDER, *country_choices()],
            **kwargs,
        )
        self._every_country = self.choices

    @property
    def offers_every_country(self) -> bool:
        """True while the field's choices are the list it was made with."""
        return self.choices is self._every_country

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = str(valuelist[0]).strip().upper()

    def process_data(self, value: Any) -> None:
        self.data = value or ""

    def pre_validate(self, form: Any) -> None:
        if self.data and self.data not in {code for code, _label in country_choices()}:
            raise StopValidation(unknown_country_message(self.data))

    def populate_obj(self, obj: Any, name: str) -> None:
        setattr(obj, name, self.data or None)


class AddressPickerField(SelectField):
    """Which address an order keeps: the customer's default, one of theirs, or typed.

    Its choices are set for each form from the chosen customer's address book
    (``OrderAddressFormMixin.offer_addresses``). It is never copied onto the order:
    the view reads it and lets the address service copy the address.
    """

    def __init__(self, label: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(value, text) for value, text in PICKER_LABELS.items()])
        kwargs.setdefault("default", CUSTOMER_DEFAULT)
        super().__init__(label, **kwargs)

    def pre_validate(self, form: Any) -> None:
        offered = {str(value) for value, *_rest in self.iter_choices()}
        if (self.data or "") not in offered:
            raise StopValidation(
                "Choose one of this customer's addresses, their default, or type a one-off "
                "address below."
            )

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


# --- the address book ----------------------------------------------------------------------


class CustomerAddressInline(InlineFormAdmin):
    """One address of the customer's address book."""

    form_columns = ["id", *ADDRESS_FIELDS, "is_default_billing", "is_default_shipping"]
    form_label = "Address"
    form_overrides = {"country": CountryField}
    column_labels = {
        **FIELD_LABELS,
        "is_default_billing": lazy_gettext("Default billing address"),
        "is_default_shipping": lazy_gettext("Default shipping address"),
    }
    column_descriptions = {
        "is_default_billing": lazy_gettext(
            "Ticking it here moves the default from another address."
        ),
        "is_default_shipping": lazy_gettext(
            "Ticking it here moves the default from another address."
        ),
    }


def address_html(address: PostalAddress | None) -> Markup:
    """An address as lines of a label, or "No address recorded"."""
    if address is None:
        return Markup('<span class="text-muted">{}</span>').format(NO_ADDRESS)
    return Markup("<br>").join(escape(line) for line in address.lines())


def address_book_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """The customer's page: each address of the book, with its default marks."""
    if not model.addresses:
        return Markup('<span class="text-muted">No addresses yet.</span>')
    items = []
    for address in model.addresses:
        marks = [f"default {kind}" for kind in ADDRESS_KINDS if address.is_default(kind)]
        badge = (
            Markup(' <span class="badge badge-info">{}</span>').format(", ".join(marks))
            if marks
            else Markup("")
        )
        items.append(Markup("<li>{}{}</li>").format(address_html(address.postal()), badge))
    return Markup('<ul class="list-unstyled address-book">{}</ul>').format(Markup("").join(items))


# --- the order's addresses -------------------------------------------------------------------


def order_address_formatter(view: Any, context: Any, model: Order, name: str) -> Markup:
    """An order's billing or shipping address as kept with the order."""
    kind = name.removesuffix("_address")
    return address_html(model.address(kind))


def order_address_text(view: Any, context: Any, model: Order, name: str) -> str:
    """An order's address on one line, for the CSV export ("" when none is recorded)."""
    address = model.address(name.removesuffix("_address"))
    return address.one_line() if address is not None else ""


def order_address_form_columns() -> list[str]:
    """The order form's address fields: each picker, then its one-off fields."""
    return [
        name
        for kind in ADDRESS_KINDS
        for name in (f"{kind}_pick", *(f"{kind}_{field}" for field in ADDRESS_FIELDS))
    ]


def order_address_form_args() -> dict[str, dict[str, Any]]:
    """Labels of the one-off fields ("Shipping postal code")."""
    return {
        f"{kind}_{field}": {"label": f"{kind.title()} {FIELD_LABELS[field].lower()}"}
        for kind in ADDRESS_KINDS
        for field in ADDRESS_FIELDS
    }


class _ChecksOneOffAddresses:
    """Form mixin: a one-off address being typed must have every required part."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)  # type: ignore[misc]
        for kind in ADDRESS_KINDS:
            picker = getattr(self, f"{kind}_pick", None)
            if picker is None or picker.data != TYPED:
                continue
            parts = {name: getattr(self, f"{kind}_{name}", None) for name in ADDRESS_FIELDS}
            if all(field is None or not field.data for field in parts.values()):
                continue  # nothing typed: the customer's default is taken
            for name in REQUIRED_FIELDS:
                field = parts[name]
                if field is not None and not field.data and not field.errors:
                    field.errors = [
                        *field.errors,
                        f"Required for a one-off {kind} address.",
                    ]
                    valid = False
        return valid


class OrderAddressFormMixin:
    """The order form's address pickers (mixed into ``OrderAdmin``).

    The view adds ``order_address_form_columns()`` to its ``form_columns`` and calls
    ``keep_chosen_addresses`` when an order is saved, before the order service.
    """

    form_extra_fields = {
        f"{kind}_pick": AddressPickerField(
            f"{kind.title()} address",
            description=(
                lazy_gettext(
                    "Choosing the customer picks their default; pick another of their "
                    "addresses, or type a one-off address in the fields below."
                )
            ),
        )
        for kind in ADDRESS_KINDS
    }
    form_overrides = {f"{kind}_country": CountryField for kind in ADDRESS_KINDS}

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()  # type: ignore[misc]
        return type(form_class.__name__, (_ChecksOneOffAddresses, form_class), {})

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)  # type: ignore[misc]
        self.offer_addresses(form, None)
        return form

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)  # type: ignore[misc]
        self.offer_addresses(form, obj)
        return form

    def offer_addresses(self, form: Any, order: Order | None) -> None:
        """List the chosen customer's addresses in the pickers, and preselect one.

        A form shown for an order that already keeps an address preselects "typed
        below", with the fields holding the address kept, so that saving it again
        changes nothing; otherwise the customer's default.
        """
        customer_field = getattr(form, "customer", None)
        customer = getattr(customer_field, "data", None)
        if customer is None and order is not None:
            customer = order.customer
        book = list(customer.addresses) if customer is not None else []
        url = url_for("customer.addresses_view", customer_id=0).replace("/0/", "/{id}/")
        for kind in ADDRESS_KINDS:
            picker = getattr(form, f"{kind}_pick", None)
            if picker is None:
                continue
            picker.choices = [
                (CUSTOMER_DEFAULT, PICKER_LABELS[CUSTOMER_DEFAULT]),
                *((str(a.id), _book_label(a, kind)) for a in book),
                (TYPED, PICKER_LABELS[TYPED]),
            ]
            picker.render_kw = {
                "data-addresses-url": url,
                "data-address-kind": kind,
                "data-address-fields": " ".join(ADDRESS_FIELDS),
            }
            if not picker.raw_data:
                kept = order is not None and order.address(kind) is not None
                picker.data = TYPED if kept else CUSTOMER_DEFAULT

    def keep_chosen_addresses(self, form: Any, order: Order, created: bool) -> None:
        """Copy the chosen addresses into ``order`` (through the address service).

        A pending order only: the order service refuses every other save with its own
        message. A one-off address left entirely blank counts as no choice.
        """
        if not created and not order.is_pending:
            return
        for kind in ADDRESS_KINDS:
            picker = getattr(form, f"{kind}_pick", None)
            picked = (picker.data if picker is not None else None) or CUSTOMER_DEFAULT
            choice: address_service.AddressChoice
            if picked == TYPED:
                typed = PostalAddress.of(order, f"{kind}_").cleaned()
                choice = address_service.DEFAULT if typed.is_blank else typed
            elif picked == CUSTOMER_DEFAULT:
                choice = address_service.DEFAULT
            else:
                choice = address_service.BookAddress(int(picked))
            address_service.choose_order_address(order, kind, choice)
