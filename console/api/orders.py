"""``/api/v1/orders``: take orders (idempotently), read them, and move them on.

Orders are taken by the order service (``take_order``: the order form's checks,
pricing and "order received" e-mail) and moved by the workflow service, as the token's
owner: the four-eyes rule applies to them as to anyone in the console.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console import audit
from console.api import auth, pagination, schemas
from console.api.base import api_blueprint, documented, record_or_404
from console.api.problems import problem
from console.database import db
from console.models import Order, PostalAddress
from console.models.addresses import ADDRESS_FIELDS
from console.permissions import ORDERS_READ, ORDERS_WRITE
from console.services import idempotency, workflow
from console.services import orders as order_service

blp = api_blueprint(
    "api_orders", __name__, "/api/v1/orders", "Orders: intake, reading and status changes."
)


def _order(order_id: int) -> Order:
    return record_or_404(
        Order, order_id, "There is no such order.", options=[selectinload(Order.lines)]
    )


def _address(values: dict[str, Any] | None) -> PostalAddress | None:
    if not values:
        return None
    return PostalAddress(**{name: values.get(name) for name in ADDRESS_FIELDS})


ORDER_SCHEMA = schemas.OrderSchema()
"""One instance, made once: a marshmallow schema copies its fields when it is made,
which for every order of a list page cost about half of the page's time."""

PLAIN_FIELDS = tuple(
    name
    for name in ORDER_SCHEMA.fields
    if name not in {"billing_address", "shipping_address", "lines"}
)
"""The order's own attributes the schema reads as they are."""


def dump(order: Order) -> dict[str, Any]:
    """``order`` as the API answers it, JSON-ready (what an idempotent replay sends)."""
    return ORDER_SCHEMA.dump(shown(order))


def shown(order: Order) -> dict[str, Any]:
    """``order``'s values as ``OrderSchema`` reads them (addresses and lines flattened)."""
    data = {name: getattr(order, name) for name in PLAIN_FIELDS}
    data["lines"] = [
        {
            "product_id": line.product_id,
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "tax_rate": line.tax_rate,
            "line_total": line.line_total,
        }
        for line in order.lines
    ]
    for kind in ("billing", "shipping"):
        address = order.address(kind)
        data[f"{kind}_address"] = (
            {name: getattr(address, name) for name in ADDRESS_FIELDS} if address else None
        )
    return data


@blp.route("", methods=["GET"], endpoint="list")
@auth.requires(ORDERS_READ)
@blp.arguments(schemas.OrderListArgs, location="query")
@blp.response(200, schemas.OrderPageSchema)
@documented(blp, 400)
def list_orders(args: dict[str, Any]):
    """List orders, oldest first; filter by status, customer and ``updated_since``."""
    query = select(Order).options(selectinload(Order.lines))
    if args.get("status"):
        query = query.where(Order.status == args["status"])
    if args.get("customer_id"):
        query = query.where(Order.customer_id == args["customer_id"])
    if args.get("updated_since"):
        query = query.where(pagination.changed_since(Order.updated_at, args["updated_since"]))
    result = pagination.page(db.session, query, Order.id, args)
    return {
        "items": [shown(order) for order in result["items"]],
        "next_cursor": result["next_cursor"],
    }


@blp.route("/<int:order_id>", methods=["GET"], endpoint="get")
@auth.requires(ORDERS_READ)
@blp.response(200, schemas.OrderSchema)
@documented(blp, 404)
def get_order(order_id: int):
    """One order with its lines, addresses and figures."""
    return shown(_order(order_id))


@blp.route("", methods=["POST"], endpoint="create")
@auth.requires(ORDERS_READ, ORDERS_WRITE)
@blp.arguments(schemas.IdempotencyHeaderSchema, location="headers", as_kwargs=True)
@blp.arguments(schemas.OrderCreateSchema)
@blp.response(201, schemas.OrderSchema)
@documented(blp, 413, 415, 422)
def create_order(values: dict[str, Any], idempotency_key: str | None = None):
    """Take an order and place it (the customer is told it was received).

    With an ``Idempotency-Key`` header, a repeat of the same request (same key, same
    body) answers what the first one did and never takes a second order, even when
    both arrive at once; the same key with another body answers 422. Keys are kept
    24 hours.
    """
    owner = auth.current_owner()
    key_row = None
    if idempotency_key:
        fingerprint = idempotency.fingerprint("POST", request.path, request.get_json())
        try:
            started = idempotency.begin(
                db.session, auth.current_token().id, idempotency_key, fingerprint
            )
        except idempotency.KeyReused as reused:
            return problem(422, reused.message, errors={"Idempotency-Key": [reused.message]})
        if isinstance(started, idempotency.Replay):
            response = current_app.response_class(
                current_app.json.dumps(started.body),
                status=started.status_code,
                mimetype="application/json",
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        key_row = started
        owner = auth.current_owner()
    intake = order_service.OrderIntake(
        customer_id=values["customer_id"],
        lines=tuple(
            order_service.DraftLine(product_id=line["product_id"], quantity=line["quantity"])
            for line in values["lines"]
        ),
        coupon_code=values.get("coupon_code"),
        shipping_method_id=values.get("shipping_method_id"),
        billing_address=_address(values.get("billing_address")),
        shipping_address=_address(values.get("shipping_address")),
    )
    with audit.acting(db.session, owner):
        order = order_service.take_order(db.session, owner, intake)
        if key_row is not None:
            idempotency.finish(key_row, 201, dump(order), order.id)
        db.session.commit()
    return shown(_order(order.id)), 201


def _transition(name: str, order_id: int, **values: Any):
    owner = auth.current_owner()
    number = _order(order_id).id
    with audit.acting(db.session, owner):
        order = workflow.perform(db.session, name, number, owner, **values)
    return shown(_order(order.id))


def _transition_route(name: str, schema: type | None, doc: str):
    """``POST /orders/<id>/<name>``: the workflow's transition, with its permission."""
    permission = workflow.TRANSITIONS[name].permission

    def view(*args: Any, order_id: int):
        values = args[0] if args else {}
        if name == "reject":
            return _transition(name, order_id, reason=values["reason"])
        if name == "ship":
            return _transition(name, order_id, tracking=values["tracking_number"])
        return _transition(name, order_id)

    view.__name__ = f"{name}_order"
    view.__doc__ = doc
    decorated = documented(blp, 404, 415, 422)(view)
    decorated = blp.response(200, schemas.OrderSchema)(decorated)
    if schema is not None:
        decorated = blp.arguments(schema)(decorated)
    decorated = auth.requires(ORDERS_READ, permission)(decorated)
    blp.route(f"/<int:order_id>/{name}", methods=["POST"], endpoint=name)(decorated)


_transition_route(
    "approve",
    None,
    "Approve a pending order, reserving stock for every line (four-eyes rule: not by "
    "the token's owner when they took or changed it).",
)
_transition_route(
    "reject", schemas.RejectSchema, "Reject a pending order; the customer reads the reason."
)
_transition_route("ship", schemas.ShipSchema, "Ship an approved order with its tracking number.")
_transition_route("deliver", None, "Record that a shipped order reached the customer.")
_transition_route("cancel", None, "Cancel a pending or approved order (stock is returned).")
