"""Tax rates, shipping methods and promotion codes: kept by managers (``promotions.manage``).

Clerks use them on orders (the order form's shipping select and coupon code) without
seeing these pages. Nothing here is deleted: orders and products refer to the records;
a record no longer wanted is made inactive.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext, lazy_gettext
from wtforms.validators import NumberRange, Optional, Regexp, ValidationError

from console.admin.base import SecuredModelView
from console.admin.fields import in_cents, strip, unused_ignoring_case
from console.admin.formatters import money_formatter
from console.models import Promotion, PromotionKind, ShippingMethod, TaxRate
from console.permissions import PROMOTIONS_MANAGE
from console.services.pricing import MAX_AMOUNT

MAX_COUNT = 2_000_000_000
"""Usage limits above this would not fit the integer columns."""


class PricingAdmin(SecuredModelView):
    """Read and kept under ``promotions.manage``; never deleted, not exported."""

    read_permission = PROMOTIONS_MANAGE
    write_permission = PROMOTIONS_MANAGE
    delete_permission = None
    export_permission = None
    column_default_sort = "name"


def percent(view: Any, context: Any, model: Any, name: str) -> str:
    value = getattr(model, name)
    return "" if value is None else f"{value:.2f} %"


class TaxRateAdmin(PricingAdmin):
    column_list = ["name", "rate", "active"]
    column_details_list = ["name", "rate", "active", "created_at", "updated_at"]
    column_labels = {"rate": lazy_gettext("Rate (%)")}
    column_formatters = {"rate": percent}
    column_formatters_detail = {"rate": percent}
    form_columns = ["name", "rate", "active"]
    form_args = {
        "name": {"filters": [strip], "validators": [unused_ignoring_case(TaxRate, "name", "name")]},
        "rate": {
            "places": 2,
            "validators": [
                NumberRange(
                    min=0,
                    max=100,
                    message=lazy_gettext("A tax rate is a percentage from 0 to 100."),
                ),
                in_cents,
            ],
        },
    }


class ShippingMethodAdmin(PricingAdmin):
    column_list = ["name", "price", "free_above", "active"]
    column_details_list = ["name", "price", "free_above", "active", "created_at", "updated_at"]
    column_labels = {"free_above": lazy_gettext("Free from subtotal")}
    column_formatters = {"price": money_formatter, "free_above": money_formatter}
    column_formatters_detail = column_formatters
    column_descriptions = {
        "free_above": lazy_gettext(
            "Orders whose subtotal reaches this amount ship free; empty: never free."
        )
    }
    form_columns = ["name", "price", "free_above", "active"]
    form_args = {
        "name": {
            "filters": [strip],
            "validators": [unused_ignoring_case(ShippingMethod, "name", "name")],
        },
        "price": {
            "places": 2,
            "validators": [
                NumberRange(
                    min=0, max=MAX_AMOUNT, message=lazy_gettext("The price must be 0 or more.")
                ),
                in_cents,
            ],
        },
        "free_above": {
            "places": 2,
            "validators": [
                Optional(),
                NumberRange(
                    min=0, max=MAX_AMOUNT, message=lazy_gettext("The amount must be 0 or more.")
                ),
                in_cents,
            ],
        },
    }


def discount_value(form: Any, field: Any) -> None:
    """A percentage is 0 to 100; a fixed amount 0 or more, in cents."""
    value = field.data
    if value is None or not value.is_finite():
        return
    if value < 0:
        raise ValidationError(gettext("The discount cannot be below 0."))
    if form.kind.data == PromotionKind.PERCENTAGE and value > 100:
        raise ValidationError(gettext("A percentage discount cannot be over 100 %."))
    if value > MAX_AMOUNT:
        raise ValidationError(gettext("The discount is larger than any order can be."))


def after_valid_from(form: Any, field: Any) -> None:
    start = form.valid_from.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(gettext("The end of validity must come after its start."))


def not_below_uses(form: Any, field: Any) -> None:
    """A usage limit cannot be set below the uses orders already hold."""
    current = getattr(form, "_obj", None)
    used = current.times_used if current is not None and current.times_used else 0
    if field.data is not None and field.data < used:
        raise ValidationError(
            gettext(
                "Orders hold this code %(used)s times already: the limit cannot be lower.",
                used=used,
            )
        )


def _count_field(message: Any, *extra: Any) -> dict[str, Any]:
    return {"validators": [Optional(), NumberRange(min=1, max=MAX_COUNT, message=message), *extra]}


class PromotionAdmin(PricingAdmin):
    column_list = [
        "code",
        "kind",
        "value",
        "valid_from",
        "valid_until",
        "usage_limit",
        "times_used",
        "active",
    ]
    column_details_list = [
        "code",
        "kind",
        "value",
        "valid_from",
        "valid_until",
        "minimum_subtotal",
        "usage_limit",
        "per_customer_limit",
        "times_used",
        "active",
        "created_at",
        "updated_at",
    ]
    column_default_sort = "code"
    column_searchable_list = ["code"]
    search_hint = lazy_gettext("Search by code")
    column_filters = ["active", "kind"]
    column_labels = {
        "valid_from": lazy_gettext("Valid from"),
        "valid_until": lazy_gettext("Valid until"),
        "usage_limit": lazy_gettext("Uses in all"),
        "per_customer_limit": lazy_gettext("Uses per customer"),
        "times_used": lazy_gettext("Used"),
    }
    column_formatters = {"minimum_subtotal": money_formatter}
    column_formatters_detail = {"minimum_subtotal": money_formatter}
    column_descriptions = {
        "value": lazy_gettext(
            "Percent off the subtotal, or the amount off, depending on the kind."
        ),
        "usage_limit": lazy_gettext("How many orders may use the code; empty: no limit."),
        "per_customer_limit": lazy_gettext(
            "How many orders of one customer may use it; empty: no limit."
        ),
    }
    form_columns = [
        "code",
        "kind",
        "value",
        "valid_from",
        "valid_until",
        "minimum_subtotal",
        "usage_limit",
        "per_customer_limit",
        "active",
    ]
    form_choices = {
        "kind": [
            (PromotionKind.PERCENTAGE.value, "Percentage off the subtotal"),
            (PromotionKind.FIXED.value, "Fixed amount off"),
        ]
    }
    form_args = {
        "code": {
            "filters": [strip],
            "validators": [
                Regexp(
                    r"^[A-Za-z0-9_-]+$",
                    message=lazy_gettext("Use letters, digits, - and _ only (no spaces)."),
                ),
                unused_ignoring_case(Promotion, "code", "code"),
            ],
        },
        "value": {"places": 2, "validators": [discount_value, in_cents]},
        "valid_until": {"validators": [Optional(), after_valid_from]},
        "minimum_subtotal": {
            "places": 2,
            "validators": [
                Optional(),
                NumberRange(
                    min=0, max=MAX_AMOUNT, message=lazy_gettext("The amount must be 0 or more.")
                ),
                in_cents,
            ],
        },
        "usage_limit": _count_field(
            lazy_gettext("Allow at least 1 use (or leave it empty)."), not_below_uses
        ),
        "per_customer_limit": _count_field(
            lazy_gettext("Allow at least 1 use (or leave it empty).")
        ),
    }
