"""The product catalogue: kept by managers, read by everyone."""

from __future__ import annotations

from wtforms.validators import Length, NumberRange, Optional

from console.admin.base import SecuredModelView
from console.admin.fields import strip
from console.admin.filters import ProductSkuFilter
from console.admin.formatters import money_formatter
from console.models import Product
from console.permissions import ORDERS_READ, PRODUCTS_DELETE, PRODUCTS_READ, PRODUCTS_WRITE, can


class ProductAdmin(SecuredModelView):
    read_permission = PRODUCTS_READ
    write_permission = PRODUCTS_WRITE
    delete_permission = PRODUCTS_DELETE

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
        "sku": {"filters": [strip]},
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
