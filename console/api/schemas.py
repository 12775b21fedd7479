"""Marshmallow schemas of the API: what each operation reads and answers.

Input schemas refuse unknown fields (marshmallow's default) and bound every number and
text, so that absurd values are refused with a field error (422) before any rule runs;
the rules themselves (unique e-mail or SKU, pricing, the status machine) are the
console's, applied by the same forms and services.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from config import LANGUAGES

MAX_ID = 2**31 - 1
MAX_QUANTITY = 100_000
MAX_PRICE = Decimal("9999999999")
DECIMAL_TEXT = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
"""How money is documented: exact decimal text (marshmallow's Decimal would say number)."""


def _money(**kwargs: Any) -> fields.Decimal:
    """Money as answered: text with two decimals, exact."""
    return fields.Decimal(
        as_string=True, places=2, metadata={**DECIMAL_TEXT, "example": "24.90"}, **kwargs
    )


def _price_in_range(value: Decimal) -> None:
    # A function, not ``validate.Range``: apispec would document the bounds as numbers
    # on a text field; the pattern documents "not negative".
    if not Decimal(0) <= value <= MAX_PRICE:
        raise ValidationError(f"Enter a price from 0 to {MAX_PRICE}.")


def _money_in(**kwargs: Any) -> fields.Decimal:
    """Money as read: exact text, never rounded here (the console's form refuses
    fractions of a cent)."""
    return fields.Decimal(
        as_string=True,
        validate=_price_in_range,
        metadata={**DECIMAL_TEXT, "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "24.90"},
        **kwargs,
    )


class UtcDateTime(fields.DateTime):
    """A moment as RFC 3339 text with its offset: the database keeps naive UTC, which
    a client could not tell from local time."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


def _text(maximum: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=maximum), **kwargs)


class ProblemSchema(Schema):
    """An RFC 9457 problem: what went wrong, and by field when input was refused."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Unprocessable Content"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": "Some values are not acceptable."})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"example": {"email": ["Enter a valid e-mail address."]}},
    )


class PageArgs(Schema):
    """Cursor pagination: ``limit`` items after ``cursor`` (from the previous page)."""

    limit = fields.Integer(
        load_default=50, validate=validate.Range(1, 200), metadata={"example": 50}
    )
    cursor = fields.String(validate=validate.Length(max=40), metadata={"example": "MTIz"})


class PageSchema(Schema):
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as ``cursor`` for the next page; null on the last."},
    )


# --- customers -------------------------------------------------------------------------


class CustomerSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 42})
    first_name = _text(80, required=True, metadata={"example": "Ada"})
    last_name = _text(80, required=True, metadata={"example": "Lovelace"})
    email = _text(254, required=True, metadata={"example": "ada@example.com"})
    phone = _text(40, allow_none=True, metadata={"example": "+44 20 7946 0000"})
    notes = _text(5000, allow_none=True, metadata={"example": "Prefers e-mail."})
    language = fields.String(
        allow_none=True,
        validate=validate.OneOf(LANGUAGES),
        metadata={
            "example": "de",
            "description": "Language of the customer's e-mails and order page; null: the shop's",
        },
    )
    version = fields.Integer(dump_only=True, metadata={"example": 1})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class CustomerUpdateSchema(CustomerSchema):
    """Only the fields sent are changed."""

    first_name = _text(80, metadata={"example": "Ada"})
    last_name = _text(80, metadata={"example": "Lovelace"})
    email = _text(254, metadata={"example": "ada@example.com"})


class CustomerListArgs(PageArgs):
    q = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Name or e-mail starting with this", "example": "love"},
    )
    email = _text(254, metadata={"example": "ada@example.com"})
    updated_since = fields.DateTime(metadata={"example": "2026-12-01T00:00:00"})


class CustomerPageSchema(PageSchema):
    items = fields.List(fields.Nested(CustomerSchema))


# --- products --------------------------------------------------------------------------


STOCK_CHANGES = (
    "Stock is not changed by editing a product: record a receipt, a count, damage or a "
    "correction with POST /api/v1/products/{id}/stock-adjustments, which the stock "
    "ledger keeps."
)


class ProductSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 7})
    sku = _text(40, required=True, metadata={"example": "KET-001"})
    name = _text(200, required=True, metadata={"example": "Kettle"})
    description = _text(5000, allow_none=True, metadata={"example": "1.7 l, steel"})
    unit_price = _money_in(required=True)
    tax_rate_id = _id(metadata={"example": 1, "description": "Default: the usual rate"})
    stock = fields.Integer(
        strict=True,
        validate=validate.Range(0, 2_000_000_000),
        metadata={
            "example": 12,
            "description": "Available stock. On create: the initial stock, recorded as "
            "received in the stock ledger.",
        },
    )
    active = fields.Boolean(metadata={"example": True})
    version = fields.Integer(dump_only=True, metadata={"example": 1})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class ProductUpdateSchema(ProductSchema):
    """Only the fields sent are changed; stock is not among them (``STOCK_CHANGES``)."""

    sku = _text(40, metadata={"example": "KET-001"})
    name = _text(200, metadata={"example": "Kettle"})
    unit_price = _money_in()
    stock = fields.Integer(dump_only=True, metadata={"example": 12, "description": STOCK_CHANGES})

    @pre_load
    def refuse_stock(self, data: Any, **_kwargs: Any) -> Any:
        """A clear answer, rather than "Unknown field", for a client that sends stock."""
        if isinstance(data, dict) and "stock" in data:
            raise ValidationError({"stock": [STOCK_CHANGES]})
        return data


class StockAdjustmentSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.OneOf(["received", "counted", "damaged", "correction"]),
        metadata={
            "example": "received",
            "description": "received: +quantity; counted: the quantity counted on the "
            "shelf (the difference is recorded); damaged: -quantity (damage or loss); "
            "correction: a signed quantity.",
        },
    )
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(-2_000_000_000, 2_000_000_000),
        metadata={"example": 10},
    )
    note = _text(500, allow_none=True, metadata={"example": "Delivery note 4471"})


class StockAdjustmentResultSchema(Schema):
    product = fields.Nested(ProductSchema)
    change = fields.Integer(
        metadata={"example": 10, "description": "The movement recorded (0: a count that matched)"}
    )


class ProductListArgs(PageArgs):
    sku = _text(40, metadata={"example": "KET-001"})
    active = fields.Boolean()
    updated_since = fields.DateTime()


class ProductPageSchema(PageSchema):
    items = fields.List(fields.Nested(ProductSchema))


# --- orders ----------------------------------------------------------------------------


class AddressSchema(Schema):
    name = _text(200, required=True, metadata={"example": "Ada Lovelace"})
    company = _text(200, allow_none=True)
    line1 = _text(200, required=True, metadata={"example": "12 St James's Square"})
    line2 = _text(200, allow_none=True)
    postal_code = _text(20, required=True, metadata={"example": "SW1Y 4JH"})
    city = _text(100, required=True, metadata={"example": "London"})
    region = _text(100, allow_none=True)
    country = _text(2, required=True, metadata={"example": "GB"})
    phone = _text(40, allow_none=True)


class OrderLineInSchema(Schema):
    product_id = _id(required=True, metadata={"example": 7})
    quantity = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(1, MAX_QUANTITY),
        metadata={"example": 2},
    )


class OrderCreateSchema(Schema):
    customer_id = _id(required=True, metadata={"example": 42})
    lines = fields.List(
        fields.Nested(OrderLineInSchema), required=True, validate=validate.Length(1, 200)
    )
    coupon_code = _text(40, allow_none=True, metadata={"example": "WELCOME10"})
    shipping_method_id = _id(allow_none=True, metadata={"example": 1})
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)


class OrderLineSchema(Schema):
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_price = _money()
    tax_rate = _money()
    line_total = _money()


class OrderSchema(Schema):
    id = fields.Integer(metadata={"example": 1001})
    number = fields.String(metadata={"example": "SO-001001"})
    status = fields.String(metadata={"example": "pending"})
    customer_id = fields.Integer()
    lines = fields.List(fields.Nested(OrderLineSchema))
    coupon_code = fields.String(allow_none=True)
    shipping_method_id = fields.Integer(allow_none=True)
    shipping_method_name = fields.String(allow_none=True)
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)
    subtotal = _money()
    discount_total = _money()
    shipping_total = _money()
    tax_total = _money()
    total = _money()
    prices_include_tax = fields.Boolean()
    rejection_reason = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    placed_at = UtcDateTime(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    shipped_at = UtcDateTime(allow_none=True)
    delivered_at = UtcDateTime(allow_none=True)
    cancelled_at = UtcDateTime(allow_none=True)
    version = fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class OrderListArgs(PageArgs):
    status = fields.String(
        validate=validate.OneOf(
            ["pending", "approved", "rejected", "shipped", "delivered", "cancelled"]
        )
    )
    # Query strings are text: a whole number in text is taken (not in JSON bodies).
    customer_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    updated_since = fields.DateTime()


class OrderPageSchema(PageSchema):
    items = fields.List(fields.Nested(OrderSchema))


class RejectSchema(Schema):
    reason = _text(2000, required=True, metadata={"example": "Out of delivery area"})


class ShipSchema(Schema):
    tracking_number = _text(100, required=True, metadata={"example": "1Z999AA10123456784"})


class IdempotencyHeaderSchema(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(1, 255),
        metadata={"description": "Repeat a request safely: same key, same answer (24 h)."},
    )
