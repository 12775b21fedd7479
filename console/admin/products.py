"""The product catalogue: kept by managers, read by everyone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from console.admin.base import SecuredModelView
from console.admin.fields import in_cents, strip
from console.admin.filters import ProductSkuFilter
from console.admin.formatters import money_formatter
from console.admin.imports import ImportMixin, import_permissions
from console.database import db
from console.models import Product, TaxRate
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


def active_tax_rates(also: TaxRate | None = None) -> list[TaxRate]:
    """The tax rates a product may be given: the active ones (and ``also``), by name."""
    query = select(TaxRate).where(TaxRate.active.is_(True))
    if also is not None:
        query = select(TaxRate).where((TaxRate.active.is_(True)) | (TaxRate.id == also.id))
    return list(db.session.scalars(query.order_by(TaxRate.name)))


class Chosen(InputRequired):
    """A required choice that an edit posted without the field leaves as it was.

    Flask-Admin's ``InputRequired`` asks for the field in every POST; a select the
    request does not carry keeps the record's value (as WTForms does for any field), so
    what is checked is that there is a value. Its type tells Flask-Admin that the field's
    requirement is declared.
    """

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is None:
            field.errors[:] = []
            raise StopValidation(self.message)


def usual_tax_rate() -> TaxRate | None:
    """The rate a new product's form starts with: the active rate most products have
    (the zero rate on an empty catalogue, where every product starts)."""
    counted = (
        select(TaxRate)
        .outerjoin(Product, Product.tax_rate_id == TaxRate.id)
        .where(TaxRate.active.is_(True))
        .group_by(TaxRate.id)
        .order_by(func.count(Product.id).desc(), TaxRate.rate, TaxRate.id)
        .limit(1)
    )
    return db.session.scalars(counted).first()


class ProductAdmin(ImportMixin, SecuredModelView):
    read_permission = PRODUCTS_READ
    write_permission = PRODUCTS_WRITE
    delete_permission = PRODUCTS_DELETE

    export_specs = ("products",)
    import_kind = "products"
    list_template = "admin/model/importable_list.html"
    endpoint_permissions = import_permissions(PRODUCTS_WRITE)
    column_list = ["sku", "name", "unit_price", "tax_rate", "stock", "active"]
    column_formatters = {"unit_price": money_formatter}
    column_formatters_detail = {"unit_price": money_formatter}
    column_labels = {
        "sku": "SKU",
        "unit_price": "Unit price",
        "stock": "Stock on hand",
        "tax_rate": "Tax rate",
    }
    column_searchable_list = ["sku", "name"]
    search_hint = "Search by SKU or name"
    column_filters = ["active", "stock", "unit_price", "name"]
    column_default_sort = "sku"
    column_details_list = [
        "sku",
        "name",
        "description",
        "unit_price",
        "tax_rate",
        "stock",
        "active",
        "created_at",
        "updated_at",
    ]
    form_columns = ["sku", "name", "description", "unit_price", "tax_rate", "stock", "active"]
    form_args = {
        "sku": {"filters": [strip], "validators": [sku_is_free]},
        "name": {"filters": [strip]},
        "description": {"validators": [Optional(), Length(max=5000)]},
        "unit_price": {
            "places": 2,
            "validators": [
                NumberRange(min=0, max=9999999999, message="The price must be 0 or more."),
                in_cents,
            ],
        },
        # Active rates only; a product keeps an inactive one it has (``edit_form``).
        "tax_rate": {
            "query_factory": lambda: active_tax_rates(),
            "default": lambda: usual_tax_rate(),
            "validators": [Chosen(message="Choose the tax rate the product is sold at.")],
        },
        "stock": {
            "validators": [
                NumberRange(min=0, max=2_000_000_000, message="Stock must be 0 or more.")
            ]
        },
    }

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)
        if obj is not None and obj.tax_rate is not None and not obj.tax_rate.active:
            form.tax_rate.query_factory = lambda: active_tax_rates(also=obj.tax_rate)
        return form

    def related_links(self, model: Product) -> list[tuple[str, str]]:
        if model is None or not can(ORDERS_READ):
            return []
        orders = self.sibling("order")
        return [("Orders containing this product", orders.filter_url(ProductSkuFilter, model.sku))]
