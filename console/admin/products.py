"""The product catalogue: kept by managers, read by everyone.

Stock is not edited here: a new product's form takes its initial stock (recorded as
"received" in the stock ledger), and afterwards the edit form shows the stock without
posting it; stock changes through the Adjust stock page and the orders
(``console.services.stock``). The product's page shows on the shelf, reserved and
available, with its latest movements.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_admin.actions import action
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
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
from console.admin.filters import MovementProductFilter, ProductSkuFilter
from console.admin.formatters import money_formatter
from console.admin.imports import ImportMixin, import_permissions
from console.admin.lookups import as_int_id
from console.database import db
from console.models import Product, TaxRate
from console.permissions import (
    ORDERS_READ,
    PRODUCTS_DELETE,
    PRODUCTS_READ,
    PRODUCTS_WRITE,
    STOCK_ADJUST,
    can,
)
from console.services import stock as stock_service
from console.services.errors import DomainError

LATEST_MOVEMENTS = 20
"""Movements the product's page shows (the movements list has them all)."""


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
            gettext(
                "Already exists: %(sku)s (%(name)s) has this SKU; SKUs are unique regardless "
                "of upper or lower case.",
                sku=other.sku,
                name=other.name,
            )
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
    action_permissions = {"adjust_stock": STOCK_ADJUST}
    details_template = "admin/product/details.html"
    edit_template = "admin/product/edit.html"
    column_list = ["sku", "name", "unit_price", "tax_rate", "stock", "active"]
    column_formatters = {"unit_price": money_formatter}
    column_formatters_detail = {"unit_price": money_formatter}
    column_labels = {
        "sku": lazy_gettext("SKU"),
        "unit_price": lazy_gettext("Unit price"),
        "stock": lazy_gettext("Available"),
        "tax_rate": lazy_gettext("Tax rate"),
    }
    column_searchable_list = ["sku", "name"]
    search_hint = lazy_gettext("Search by SKU or name")
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
                NumberRange(
                    min=0, max=9999999999, message=lazy_gettext("The price must be 0 or more.")
                ),
                in_cents,
            ],
        },
        # Active rates only; a product keeps an inactive one it has (``edit_form``).
        "tax_rate": {
            "query_factory": lambda: active_tax_rates(),
            "default": lambda: usual_tax_rate(),
            "validators": [
                Chosen(message=lazy_gettext("Choose the tax rate the product is sold at."))
            ],
        },
        # Only on the create form (``get_edit_form``): recorded as received.
        "stock": {
            "label": "Initial stock",
            "description": "Recorded as received in the stock ledger; later changes go "
            "through Adjust stock.",
            "validators": [
                NumberRange(
                    min=0, max=2_000_000_000, message=lazy_gettext("Stock must be 0 or more.")
                )
            ],
        },
    }

    def get_edit_form(self) -> Any:
        """The product form without its stock: stock changes only through the ledger.

        A field set to None in a subclass is no field at all for WTForms, so a posted
        ``stock`` is never read, and the edit page shows the figures instead.
        """
        return type("ProductEditForm", (super().get_edit_form(),), {"stock": None})

    def on_model_change(self, form: Any, model: Product, is_created: bool) -> None:
        super().on_model_change(form, model, is_created)
        if is_created:
            stock_service.record_initial_stock(
                db.session(), model, current_user._get_current_object()
            )

    def on_model_delete(self, model: Product) -> None:
        """Refuse, with a message, to delete a product whose stock has a history."""
        super().on_model_delete(model)
        if stock_service.latest_movements(db.session, model.id, limit=1):
            raise DomainError(
                gettext(
                    "%(sku)s has stock movements: they are the history of its stock, so it "
                    "cannot be deleted. Untick Active to stop selling it.",
                    sku=model.sku,
                )
            )

    @action("adjust_stock", lazy_gettext("Adjust stock"))
    def action_adjust_stock(self, ids: list[str]) -> Any:
        """The Adjust stock form with the selected products filled in (it posts to the
        Adjust stock page)."""
        numbers = [number for number in map(as_int_id, ids) if number is not None]
        skus = db.session.scalars(
            select(Product.sku).where(Product.id.in_(numbers)).order_by(Product.sku)
        ).all()
        return self.sibling("stock_adjust").form_page(list(skus))

    def stock_panel(self, model: Product) -> dict[str, Any]:
        """What the product's pages show of its stock: figures, latest movements, links."""
        movements = self.sibling("stock_movement")
        return {
            "figures": stock_service.figures(db.session, model),
            "movements": stock_service.latest_movements(db.session, model.id, LATEST_MOVEMENTS),
            "all_url": movements.filter_url(MovementProductFilter, model.sku),
            "adjust_url": url_for("stock_adjust.index", sku=model.sku)
            if can(STOCK_ADJUST)
            else None,
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
