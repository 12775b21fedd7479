"""``/api/v1/customers``: list, search, get, create and update customers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from console.api import auth, forms, pagination, schemas
from console.api.base import api_blueprint, documented, etag_data, record_or_404, save
from console.database import db
from console.models import Customer
from console.models.customers import search_words
from console.permissions import CUSTOMERS_READ, CUSTOMERS_WRITE

blp = api_blueprint(
    "api_customers", __name__, "/api/v1/customers", "Customers orders are taken for."
)


def _customer(customer_id: int) -> Customer:
    return record_or_404(Customer, customer_id, "There is no such customer.")


@blp.route("", methods=["GET"], endpoint="list")
@auth.requires(CUSTOMERS_READ)
@blp.arguments(schemas.CustomerListArgs, location="query")
@blp.response(200, schemas.CustomerPageSchema)
@documented(blp, 400)
def list_customers(args: dict[str, Any]):
    """List customers, oldest first, with search.

    ``q`` matches names and e-mail addresses that start with it (as the console's
    customer picker); ``email`` is an exact match; ``updated_since`` gives those
    changed since a moment, for syncing.
    """
    query = select(Customer)
    if args.get("q"):
        words = search_words(args["q"])
        conditions = [
            or_(Customer.search_text.like(f"{word}%"), Customer.search_text.like(f"% {word}%"))
            for word in words
        ]
        query = query.where(*conditions)
    if args.get("email"):
        query = query.where(Customer.email == args["email"].strip().lower())
    if args.get("updated_since"):
        query = query.where(pagination.changed_since(Customer.updated_at, args["updated_since"]))
    return pagination.page(db.session, query, Customer.id, args)


@blp.route("/<int:customer_id>", methods=["GET"], endpoint="get")
@auth.requires(CUSTOMERS_READ)
@blp.etag
@blp.response(200, schemas.CustomerSchema)
@documented(blp, 404)
def get_customer(customer_id: int):
    """One customer; its ETag is what ``If-Match`` names when it is updated."""
    customer = _customer(customer_id)
    blp.set_etag(etag_data(customer))
    return customer


@blp.route("", methods=["POST"], endpoint="create")
@auth.requires(CUSTOMERS_READ, CUSTOMERS_WRITE)
@blp.etag
@blp.arguments(schemas.CustomerSchema)
@blp.response(201, schemas.CustomerSchema)
@documented(blp, 409, 413, 415, 422)
def create_customer(values: dict[str, Any]):
    """Create a customer, checked as the console's customer form checks it."""
    customer = save(Customer(), forms.checked("customer", values))
    blp.set_etag(etag_data(customer))
    return customer


@blp.route("/<int:customer_id>", methods=["PATCH"], endpoint="update")
@auth.requires(CUSTOMERS_READ, CUSTOMERS_WRITE)
@blp.etag
@blp.arguments(schemas.CustomerUpdateSchema)
@blp.response(200, schemas.CustomerSchema)
@documented(blp, 404, 409, 413, 415, 422)
def update_customer(values: dict[str, Any], customer_id: int):
    """Change the fields sent; ``If-Match`` must name the customer's current ETag
    (412 when someone changed it since, 428 when missing)."""
    customer = _customer(customer_id)
    blp.check_etag(etag_data(customer))
    save(customer, forms.checked("customer", values, customer))
    blp.set_etag(etag_data(customer))
    return customer
