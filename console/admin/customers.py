"""Customers: kept by clerks and managers, read by everyone."""

from __future__ import annotations

from wtforms.validators import Email, Length, Optional

from console.admin.base import SecuredModelView
from console.admin.fields import lower, strip
from console.admin.filters import CustomerEmailFilter
from console.database import db
from console.models import Customer
from console.permissions import (
    CUSTOMERS_DELETE,
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    ORDERS_READ,
    can,
)
from console.services import customers as customer_service


class CustomerAdmin(SecuredModelView):
    read_permission = CUSTOMERS_READ
    write_permission = CUSTOMERS_WRITE
    delete_permission = CUSTOMERS_DELETE

    export_specs = ("customers",)
    column_list = ["last_name", "first_name", "email", "phone", "created_at"]
    column_labels = {
        "email": "E-mail",
        "created_at": "Created (UTC)",
        "updated_at": "Updated (UTC)",
    }
    column_searchable_list = ["email", "last_name", "first_name", "phone"]
    search_hint = "Search by name, e-mail or phone"
    column_filters = ["last_name", "email", "created_at"]
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_details_list = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "address",
        "notes",
        "created_at",
        "updated_at",
    ]
    form_columns = ["first_name", "last_name", "email", "phone", "address", "notes"]
    form_args = {
        "first_name": {"filters": [strip]},
        "last_name": {"filters": [strip]},
        "email": {
            "filters": [strip, lower],
            "validators": [Email(message="Enter a valid e-mail address, like name@example.com.")],
        },
        "phone": {"filters": [strip]},
        "address": {"filters": [strip]},
        "notes": {"validators": [Optional(), Length(max=5000)]},
    }
    form_widget_args = {"notes": {"rows": 4}, "address": {"rows": 2}}

    def on_model_delete(self, model: Customer) -> None:
        """Refuse, with the reason, to delete a customer who has orders."""
        customer_service.ensure_deletable(db.session, model)

    def related_links(self, model: Customer) -> list[tuple[str, str]]:
        if model is None or not can(ORDERS_READ):
            return []
        orders = self.sibling("order")
        return [("Orders of this customer", orders.filter_url(CustomerEmailFilter, model.email))]
