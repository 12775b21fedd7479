"""``/api/v1/products``: list, get, create and update the catalogue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from console.admin.products import usual_tax_rate
from console.api import auth, forms, pagination, schemas
from console.api.base import api_blueprint, documented, etag_data, record_or_404, save
from console.database import db
from console.models import Product
from console.permissions import PRODUCTS_READ, PRODUCTS_WRITE, STOCK_ADJUST
from console.services import stock as stock_service

blp = api_blueprint("api_products", __name__, "/api/v1/products", "The product catalogue.")


def _product(product_id: int) -> Product:
    return record_or_404(Product, product_id, "There is no such product.")


def _cleaned(values: dict[str, Any], product: Product | None = None) -> dict[str, Any]:
    cleaned = forms.checked("product", values, product)
    if "tax_rate_id" in cleaned:
        cleaned["tax_rate"] = cleaned.pop("tax_rate_id")
    elif product is None:
        cleaned["tax_rate"] = usual_tax_rate()  # what the console's form starts with
    return cleaned


@blp.route("", methods=["GET"], endpoint="list")
@auth.requires(PRODUCTS_READ)
@blp.arguments(schemas.ProductListArgs, location="query")
@blp.response(200, schemas.ProductPageSchema)
@documented(blp, 400)
def list_products(args: dict[str, Any]):
    """List products, oldest first; filter by SKU (any case), active, ``updated_since``."""
    query = select(Product)
    if args.get("sku"):
        query = query.where(func.lower(Product.sku) == args["sku"].strip().lower())
    if "active" in args:
        query = query.where(Product.active.is_(args["active"]))
    if args.get("updated_since"):
        query = query.where(pagination.changed_since(Product.updated_at, args["updated_since"]))
    return pagination.page(db.session, query, Product.id, args)


@blp.route("/<int:product_id>", methods=["GET"], endpoint="get")
@auth.requires(PRODUCTS_READ)
@blp.etag
@blp.response(200, schemas.ProductSchema)
@documented(blp, 404)
def get_product(product_id: int):
    """One product; its ETag is what ``If-Match`` names when it is updated."""
    product = _product(product_id)
    blp.set_etag(etag_data(product))
    return product


@blp.route("", methods=["POST"], endpoint="create")
@auth.requires(PRODUCTS_READ, PRODUCTS_WRITE)
@blp.etag
@blp.arguments(schemas.ProductSchema)
@blp.response(201, schemas.ProductSchema)
@documented(blp, 409, 413, 415, 422)
def create_product(values: dict[str, Any]):
    """Create a product, checked as the console's product form checks it; its stock is
    recorded as received in the stock ledger, as the console's form records it."""
    product = save(
        Product(),
        _cleaned(values),
        then=lambda new: stock_service.record_initial_stock(db.session, new, auth.current_owner()),
    )
    blp.set_etag(etag_data(product))
    return product


@blp.route("/<int:product_id>", methods=["PATCH"], endpoint="update")
@auth.requires(PRODUCTS_READ, PRODUCTS_WRITE)
@blp.etag
@blp.arguments(schemas.ProductUpdateSchema)
@blp.response(200, schemas.ProductSchema)
@documented(blp, 404, 409, 413, 415, 422)
def update_product(values: dict[str, Any], product_id: int):
    """Change the fields sent; ``If-Match`` must name the product's current ETag."""
    product = _product(product_id)
    blp.check_etag(etag_data(product))
    save(product, _cleaned(values, product))
    blp.set_etag(etag_data(product))
    return product


@blp.route("/<int:product_id>/stock-adjustments", methods=["POST"], endpoint="adjust_stock")
@auth.requires(PRODUCTS_READ, STOCK_ADJUST)
@blp.arguments(schemas.StockAdjustmentSchema)
@blp.response(200, schemas.StockAdjustmentResultSchema)
@documented(blp, 404, 413, 415, 422)
def adjust_stock(values: dict[str, Any], product_id: int):
    """Record a receipt, a count, damage or a correction of one product's stock, as the
    console's Adjust stock page does: a movement in the stock ledger, never below zero."""
    product = _product(product_id)
    outcome = stock_service.adjust(
        db.session,
        auth.current_owner(),
        values["reason"],
        [stock_service.AdjustmentRow(product.sku, values["quantity"])],
        values.get("note"),
    )
    db.session.refresh(product)
    change = sum(movement.quantity for movement in outcome.movements)
    return {"product": product, "change": change}
