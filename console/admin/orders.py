"""Orders: taken by clerks, approved by managers; lines edited inline.

Totals, unit prices and numbers are set on the server by ``console.services.orders``;
the form carries only the customer, the coupon code and each line's product and quantity.
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import InputRequired, NumberRange

from console.admin.base import SecuredModelView
from console.admin.fields import strip
from console.admin.formatters import (
    customer_link_formatter,
    datetime_formatter,
    money_formatter,
    order_lines_formatter,
    order_lines_text,
)
from console.admin.lookups import RecordLookup, as_int_id
from console.extensions import db
from console.models import Customer, Order, OrderLine, OrderStatus, Product
from console.permissions import ORDERS_READ, ORDERS_WRITE
from console.services import orders as order_service

STATUS_CHOICES = [(status.value, status.value.title()) for status in OrderStatus]


class OrderLineInline(InlineFormAdmin):
    """One line of an order: a product (looked up by SKU or name) and a quantity."""

    form_columns = ["id", "product", "quantity"]
    form_label = "Line"
    form_args = {
        "quantity": {
            "validators": [
                InputRequired(message="Enter a quantity."),
                NumberRange(min=1, max=1_000_000, message="The quantity must be at least 1."),
            ]
        },
    }
    form_ajax_refs = {
        "product": RecordLookup(
            "product",
            Product,
            fields=["sku", "name"],
            order_by="sku",
            placeholder="Search an active product by SKU or name",
            # Only products on sale can be added to an order.
            filters=["active = true"],
        )
    }


class OrderAdmin(SecuredModelView):
    read_permission = ORDERS_READ
    write_permission = ORDERS_WRITE

    column_list = ["number", "customer", "status", "total", "created_at", "created_by"]
    column_labels = {
        "number": "Order",
        "created_at": "Created (UTC)",
        "created_by": "Taken by",
        "customer.email": "Customer e-mail",
        "customer.last_name": "Customer last name",
    }
    column_select_related_list = [Order.customer, Order.created_by]
    column_searchable_list = ["number", "customer.email", "customer.last_name"]
    # The orders table is the big one: skip the full count(*) each list page would pay,
    # and page with "previous / next" instead of numbered pages.
    simple_list_pager = True
    column_filters = [
        FilterEqual(Order.status, "Status", options=STATUS_CHOICES),
        "created_at",
        "total",
        "customer.email",
    ]
    column_sortable_list = ["number", "status", "total", "created_at"]
    column_default_sort = ("created_at", True)
    column_formatters = {
        "customer": customer_link_formatter,
        "total": money_formatter,
        "created_at": datetime_formatter,
    }
    column_details_list = [
        "number",
        "customer",
        "status",
        "coupon_code",
        "lines",
        "total",
        "created_by",
        "created_at",
        "decided_by",
        "decided_at",
        "rejection_reason",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "updated_at",
    ]
    column_formatters_detail = {
        "customer": customer_link_formatter,
        "lines": order_lines_formatter,
        "total": money_formatter,
    }

    column_export_list = [
        "number",
        "status",
        "customer",
        "total",
        "coupon_code",
        "lines",
        "created_at",
        "created_by",
        "decided_by",
        "decided_at",
        "rejection_reason",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
    ]
    column_formatters_export = {"lines": order_lines_text}

    form_columns = ["customer", "coupon_code", "lines"]
    form_args = {"coupon_code": {"filters": [strip]}}
    form_ajax_refs = {
        "customer": RecordLookup(
            "customer",
            Customer,
            fields=["email", "last_name", "first_name"],
            order_by="email",
            placeholder="Search a customer by e-mail or name",
        )
    }
    inline_models = [OrderLineInline(OrderLine)]

    def get_one(self, id: Any) -> Order | None:
        """The order with its lines, their products and its people, in a fixed few queries."""
        number = as_int_id(id)
        if number is None:
            return None
        return db.session.get(
            Order,
            number,
            options=[
                selectinload(Order.lines).joinedload(OrderLine.product),
                joinedload(Order.customer),
                joinedload(Order.created_by),
                joinedload(Order.decided_by),
            ],
        )

    def search_placeholder(self) -> str:
        return "Order number, customer e-mail or name"

    def export_query_options(self) -> list:
        return [
            selectinload(Order.lines).joinedload(OrderLine.product),
            joinedload(Order.customer),
            joinedload(Order.created_by),
            joinedload(Order.decided_by),
        ]

    def _apply_search(self, query, count_query, joins, count_joins, search: str):
        """Match each search term through an index (``orders.search_condition``).

        Flask-Admin has no public hook for how a term matches; its default, a substring
        ILIKE over the joined customer columns, reads every order of a large table.
        """
        for term in search.split():
            condition = order_service.search_condition(term)
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def on_model_change(self, form, model: Order, is_created: bool) -> None:
        """Let the order service check the lines and set prices, total and number."""
        order_service.prepare_order(db.session, model, current_user, created=is_created)
