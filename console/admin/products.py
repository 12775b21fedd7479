"""The product catalogue: kept by managers, read by everyone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from console.admin.base import SecuredModelView
from console.admin.fields import strip
from console.admin.filters import ProductSkuFilter
from console.admin.formatters import money_formatter
from console.database import db
from console.models import Product
from console.permissions import ORDERS_READ, PRODUCTS_DELETE, PRODUCTS_READ, PRODUCTS_WRITE, can


def sku_is_free(form: Any, field: Any) -> None:
    """Refuse a SKU another product already has, whatever the case of either.

    The database holds the same rule (a unique index on ``lower(sku)``); this check puts
    the message on the field and names the product that has the SKU.
    """
    if not field.data:
        return
    query = select(Product).where(func.lower(Product.sku) == field.data.lower())
    current = getattr(form, "_obj", None)
    if current is not None and current.id is not None:
        query = query.where(Product.id != current.id)
    other = db.session.scalars(query.limit(1)).first()
    if other is not None:
        raise ValidationError(
            f"Already exists: {other.sku} ({other.name}) has this SKU; "
            "SKUs are unique regardless of upper or lower case."
        )


class ProductAdmin(SecuredModelView):
    read_permission = PRODUCTS_READ
    write_permission = PRODUCTS_WRITE
    delete_permission = PRODUCTS_DELETE

    export_specs = ("products",)
    column_list = ["sku", "name", "unit_price", "stock", "active"]
    column_formatters = {"unit_price": money_formatter}
    column_formatters_detail = {"unit_price": money_formatter}
    column_labels = {"sku": "SKU", "unit_price": "Unit price", "stock": "Stock on hand"}
    column_searchable_list = ["sku", "name"]
    search_hint = "Search by SKU or name"
    column_filters = ["active", "stock", "unit_price", "name"]
    column_default_sort = "sku"
    column_details_list = [
        "sku",
        "name",
        "description",
        "unit_price",
        "stock",
        "active",
        "created_at",
        "updated_at",
    ]
    form_columns = ["sku", "name", "description", "unit_price", "stock", "active"]
    form_args = {
        "sku": {"filters": [strip], "validators": [sku_is_free]},
        "name": {"filters": [strip]},
        "description": {"validators": [Optional(), Length(max=5000)]},
        "unit_price": {
            "places": 2,
            "validators": [
                NumberRange(min=0, max=9999999999, message="The price must be 0 or more.")
            ],
        },
        "stock": {
            "validators": [
                NumberRange(min=0, max=2_000_000_000, message="Stock must be 0 or more.")
            ]
        },
    }

    def related_links(self, model: Product) -> list[tuple[str, str]]:
        if model is None or not can(ORDERS_READ):
            return []
        orders = self.sibling("order")
        return [("Orders containing this product", orders.filter_url(ProductSkuFilter, model.sku))]
