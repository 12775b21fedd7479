"""Customers: kept by clerks and managers, read by everyone."""

from __future__ import annotations

from flask import abort, jsonify
from flask_admin import expose
from flask_babel import lazy_gettext
from sqlalchemy.orm import selectinload
from wtforms.validators import Email, Length, Optional

from console.admin.addresses import CustomerAddressInline, address_book_formatter
from console.admin.base import SecuredModelView
from console.admin.fields import lower, strip
from console.admin.filters import CustomerEmailFilter
from console.admin.imports import ImportMixin, import_permissions
from console.admin.lookups import as_int_id
from console.database import db
from console.i18n import LANGUAGE_NAMES
from console.models import Customer, CustomerAddress
from console.permissions import (
    CUSTOMERS_DELETE,
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    ORDERS_READ,
    ORDERS_WRITE,
    can,
)
from console.services import addresses as address_service
from console.services import customers as customer_service


class CustomerAdmin(ImportMixin, SecuredModelView):
    read_permission = CUSTOMERS_READ
    write_permission = CUSTOMERS_WRITE
    delete_permission = CUSTOMERS_DELETE

    export_specs = ("customers",)
    import_kind = "customers"
    list_template = "admin/model/importable_list.html"
    column_list = ["last_name", "first_name", "email", "phone", "created_at"]
    column_labels = {
        "email": lazy_gettext("E-mail"),
        "addresses": lazy_gettext("Address book"),
        "address": lazy_gettext("Address (free text, from before the address book)"),
        "created_at": lazy_gettext("Created"),
        "updated_at": lazy_gettext("Updated"),
    }
    column_searchable_list = ["email", "last_name", "first_name", "phone"]
    search_hint = lazy_gettext("Search by name, e-mail or phone")
    column_filters = ["last_name", "email", "created_at"]
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_details_list = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "addresses",
        "address",
        "notes",
        "created_at",
        "updated_at",
    ]
    column_formatters_detail = {"addresses": address_book_formatter}
    # The old free-text address is no longer edited: it is shown read-only (details
    # page, and above the form in admin/customer/edit.html) until copied into the book.
    form_columns = ["first_name", "last_name", "email", "phone", "language", "notes", "addresses"]
    # The language of the customer's e-mails and order page; blank: the shop's.
    form_choices = {"language": [(code, name) for code, name in LANGUAGE_NAMES.items()]}
    inline_models = [CustomerAddressInline(CustomerAddress)]
    edit_template = "admin/customer/edit.html"
    form_args = {
        "first_name": {"filters": [strip]},
        "last_name": {"filters": [strip]},
        "email": {
            "filters": [strip, lower],
            "validators": [
                Email(message=lazy_gettext("Enter a valid e-mail address, like name@example.com."))
            ],
        },
        "phone": {"filters": [strip]},
        # Blank (the shop's language) is kept as None, not as empty text. The blank
        # choice is named, so that the picker always has a readable text.
        "language": {"filters": [strip], "blank_text": lazy_gettext("The shop’s language")},
        "notes": {"validators": [Optional(), Length(max=5000)]},
    }
    form_widget_args = {"notes": {"rows": 4}}

    # The order form's address pickers read a customer's address book here: it serves
    # those who take orders (and lists customer data, so needs customers.read too).
    endpoint_permissions = {"addresses_view": ORDERS_WRITE, **import_permissions(CUSTOMERS_WRITE)}

    def get_one(self, id):
        """The customer with the address book loaded in the same round trip."""
        number = as_int_id(id)
        if number is None:
            return None
        return db.session.get(Customer, number, options=[selectinload(Customer.addresses)])

    def on_model_change(self, form, model: Customer, is_created: bool) -> None:
        """Keep one default billing and one default shipping address."""
        address_service.settle_defaults(db.session, model)

    @expose("/<int:customer_id>/addresses/")
    def addresses_view(self, customer_id: int):
        """The customer's address book as JSON, for the order form's address pickers."""
        number = as_int_id(customer_id)
        customer = (
            db.session.get(Customer, number, options=[selectinload(Customer.addresses)])
            if number is not None
            else None
        )
        if customer is None:
            abort(404)
        return jsonify(address_service.address_book(customer))

    def on_model_delete(self, model: Customer) -> None:
        """Refuse, with the reason, to delete a customer who has orders."""
        customer_service.ensure_deletable(db.session, model)

    def related_links(self, model: Customer) -> list[tuple[str, str]]:
        if model is None or not can(ORDERS_READ):
            return []
        orders = self.sibling("order")
        return [("Orders of this customer", orders.filter_url(CustomerEmailFilter, model.email))]
