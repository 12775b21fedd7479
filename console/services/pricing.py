"""Order pricing: one pure function from an order's lines and choices to its figures.

``quote`` is the only place where an order's money is computed. The order form's
preview and the save both call it (through ``console.services.orders``) with the same
inputs, so what a person is shown is exactly what is stored. It reads no database, no
request and no clock: everything it needs is an argument, and it returns an immutable
``Quote`` with every figure and every problem found (by form field).

The rules (docs/pricing.md):

- A line's total is quantity × unit price (unit prices have cents, so it is exact);
  the subtotal is the sum of the line totals.
- A percentage code takes ``subtotal × value / 100`` off, rounded half-up to the cent;
  a fixed code takes its value off, and is refused when larger than the subtotal.
- The discount is spread over the lines in proportion to their totals: each line gets
  its exact share rounded down to the cent, and the cents left over go one by one to
  the lines with the largest remainders (the earlier line first on a tie). So the
  shares add up to the discount exactly and no line gets more than its total.
- Shipping is the method's price, or nothing once the subtotal (before discount)
  reaches the method's ``free_above``. It is taxed at the shop's shipping rate.
- Tax is computed per line on the line's total after its share of the discount,
  rounded half-up to the cent, and added up per rate:
  - prices without tax: ``tax = amount × rate / 100``, and
    ``total = subtotal - discount + shipping + tax``;
  - prices with tax included: ``tax = amount × rate / (100 + rate)`` (the part of the
    amount that is tax), and ``total = subtotal - discount + shipping``; the tax is
    shown as included.
  In both, each rate's ``base`` is the amount without its tax, and the bases plus the
  taxes make the total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from types import MappingProxyType
from typing import Any

from flask import has_app_context
from flask_babel import gettext, ngettext

from console import localtime
from console.i18n import format_count, format_money

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal("9999999999.99")
"""The largest amount a money column (``Numeric(12, 2)``) holds."""
MAX_QUANTITY = 1_000_000
TAX_NAME_LENGTH = 200
"""A tax line's name is the names of its rates' tax rates, cut to what its column holds."""

PERCENTAGE = "percentage"
FIXED = "fixed"


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to the cent (2.345 -> 2.35, 2.344 -> 2.34)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """``1234.5`` -> ``"1,234.50"`` (messages name amounts the way pages show them)."""
    return f"{value:,.2f}"


@dataclass(frozen=True)
class LineInput:
    """One line as it is priced: the product's snapshot (or the line's kept one)."""

    sku: str
    name: str
    unit_price: Decimal
    tax_rate: Decimal
    """Percent."""
    tax_name: str
    quantity: int
    product_id: int | None = None
    stock: int | None = None
    """Stock on hand of the product now (None: unknown), for the availability flags."""
    active: bool = True
    """Whether the product is still sold."""
    kept: bool = False
    """The line is stored already with this product: it may stay though its product was
    retired since, and keeps its snapshot."""


@dataclass(frozen=True)
class PromotionInput:
    """A promotion code found for the code typed, with what limits its use."""

    code: str
    kind: str
    value: Decimal
    id: int | None = None
    active: bool = True
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    minimum_subtotal: Decimal | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    times_used: int = 0
    """Uses by other orders."""
    customer_uses: int = 0
    """Uses by other orders of this order's customer."""
    held: bool = False
    """The order holds this code already: its validity and total limit were checked
    when it was applied, so only what depends on the lines is checked again."""
    held_by_customer: bool = False
    """The order holds this code for this same customer (the per-customer count too)."""


@dataclass(frozen=True)
class ShippingInput:
    name: str
    price: Decimal
    free_above: Decimal | None = None
    id: int | None = None
    active: bool = True
    held: bool = False
    """The order has this method already: it may stay though it is no longer offered."""


@dataclass(frozen=True)
class PricingRules:
    """The shop-wide settings pricing follows (``SHOP_PRICES_INCLUDE_TAX``...)."""

    prices_include_tax: bool = False
    shipping_tax_rate: Decimal = ZERO
    shipping_tax_name: str = "Shipping"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PricingRules:
        return cls(
            prices_include_tax=bool(config.get("SHOP_PRICES_INCLUDE_TAX", False)),
            shipping_tax_rate=Decimal(config.get("SHOP_SHIPPING_TAX_RATE", ZERO)),
        )

    def shipping_rate_of(self, kept: Decimal | None) -> Decimal:
        """The rate an order's shipping was taxed at: ``kept``, the order's own
        ``shipping_tax_rate``, or this shop's for an order priced before it was kept."""
        return kept if kept is not None else self.shipping_tax_rate


@dataclass(frozen=True)
class QuotedLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    tax_rate: Decimal
    tax_name: str
    line_total: Decimal
    """Quantity × unit price, as shown and stored."""
    discount: Decimal
    """This line's share of the order's discount."""
    base: Decimal
    """The amount taxed, without tax."""
    tax: Decimal
    product_id: int | None
    available: bool
    """Stock covers the quantity now (approval reserves it later)."""
    short: bool
    inactive: bool
    stock: int | None = None
    """Stock on hand of the product now (None: unknown), shown beside the line."""


@dataclass(frozen=True)
class TaxAmount:
    """Tax of one rate: the amount it applies to (without tax) and the tax."""

    rate: Decimal
    name: str
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Quote:
    """Every figure of an order, and what is wrong with it, by form field."""

    lines: tuple[QuotedLine, ...]
    subtotal: Decimal
    discount_total: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    taxes: tuple[TaxAmount, ...]
    prices_include_tax: bool
    coupon_code: str | None
    """The code as it will be recorded (the promotion's own spelling)."""
    promotion_id: int | None
    shipping_method_id: int | None
    shipping_method_name: str | None = None
    """The shipping method's name, kept on the order with the figures."""
    shipping_tax_rate: Decimal | None = None
    """The rate the shipping is taxed at (None: no shipping charged)."""
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Form field (``coupon_code``, ``shipping_method``, ``lines``, ``lines-0-quantity``)
    -> messages. Empty: the order may be saved as quoted."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        """The quote for the preview endpoint: amounts as strings with two decimals."""

        def amount(value: Decimal) -> str:
            return f"{value:.2f}"

        return {
            "lines": [
                {
                    "product_id": line.product_id,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": amount(line.unit_price),
                    "tax_rate": amount(line.tax_rate),
                    "line_total": amount(line.line_total),
                    "discount": amount(line.discount),
                    "tax": amount(line.tax),
                    "available": line.available,
                    "short": line.short,
                    "inactive": line.inactive,
                    "stock": line.stock,
                }
                for line in self.lines
            ],
            "subtotal": amount(self.subtotal),
            "discount_total": amount(self.discount_total),
            "shipping_total": amount(self.shipping_total),
            "tax_total": amount(self.tax_total),
            "total": amount(self.total),
            "taxes": [
                {
                    "rate": amount(t.rate),
                    "name": t.name,
                    "base": amount(t.base),
                    "tax": amount(t.tax),
                }
                for t in self.taxes
            ],
            "prices_include_tax": self.prices_include_tax,
            "coupon_code": self.coupon_code,
            "promotion_id": self.promotion_id,
            "shipping_method_id": self.shipping_method_id,
            "errors": {name: list(messages) for name, messages in self.errors.items()},
        }


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` split in cents in proportion to ``weights`` (largest remainders).

    Each share is its exact proportion rounded down to the cent; the cents left over go
    one each to the largest remainders, the earlier weight first on a tie. The shares
    add up to ``amount``; with ``amount`` at most ``sum(weights)``, none exceeds its
    weight.
    """
    total = sum(weights, ZERO)
    if amount == 0 or total == 0:
        return [ZERO for _ in weights]
    with localcontext() as context:
        context.prec = 60
        exact = [amount * weight / total for weight in weights]
        shares = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
        left = int((amount - sum(shares, ZERO)) / CENT)
        by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[:left]:
        shares[i] += CENT
    return shares


def included_tax(amount: Decimal, rate: Decimal) -> Decimal:
    """The tax inside a price that includes it: ``amount × rate / (100 + rate)``."""
    with localcontext() as context:
        context.prec = 60
        return cents(amount * rate / (HUNDRED + rate))


def added_tax(amount: Decimal, rate: Decimal) -> Decimal:
    """The tax on a price without it: ``amount × rate / 100``."""
    with localcontext() as context:
        context.prec = 60
        return cents(amount * rate / HUNDRED)


def _moment_text(moment: dt.datetime) -> str:
    """A time in a message: as the reader reads times, in a request or a job; in UTC
    where nobody reads (pricing outside an app)."""
    if has_app_context():
        return localtime.show(moment)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _amount_text(value: Decimal) -> str:
    """An amount in a message: as the reader's locale writes money (``1.234,50 €``), or
    ``1,234.50`` where nobody reads (pricing outside an app)."""
    if has_app_context():
        return format_money(value)
    return money_text(value)


def quantity_range_message() -> str:
    """What a line's quantity out of range is told."""
    return gettext(
        "The quantity must be at least 1 and at most %(most)s.",
        most=format_count(MAX_QUANTITY),
    )


def promotion_problems(promotion: PromotionInput, subtotal: Decimal, now: dt.datetime) -> list[str]:
    """Why ``promotion`` cannot apply to an order of ``subtotal`` now (empty: it can)."""
    code = promotion.code
    if not promotion.held:
        if not promotion.active:
            return [gettext("The code %(code)s is no longer active.", code=code)]
        if promotion.valid_from is not None and now < promotion.valid_from:
            return [
                gettext(
                    "The code %(code)s is not valid yet: it starts %(when)s.",
                    code=code,
                    when=_moment_text(promotion.valid_from),
                )
            ]
        if promotion.valid_until is not None and now > promotion.valid_until:
            return [
                gettext(
                    "The code %(code)s expired %(when)s.",
                    code=code,
                    when=_moment_text(promotion.valid_until),
                )
            ]
        limit = promotion.usage_limit
        if limit is not None and promotion.times_used >= limit:
            return [
                ngettext(
                    "The code %(code)s has been used up: it could be used once in all.",
                    "The code %(code)s has been used up: it could be used %(num)s times in all.",
                    limit,
                    code=code,
                )
            ]
    if not promotion.held_by_customer:
        limit = promotion.per_customer_limit
        if limit is not None and promotion.customer_uses >= limit:
            return [
                ngettext(
                    "This customer has used the code %(code)s already (once per customer).",
                    "This customer has used the code %(code)s already (%(num)s times per "
                    "customer).",
                    limit,
                    code=code,
                )
            ]
    minimum = promotion.minimum_subtotal
    if minimum is not None and subtotal < minimum:
        return [
            gettext(
                "The code %(code)s needs a subtotal of at least %(minimum)s; this order's is "
                "%(subtotal)s.",
                code=code,
                minimum=_amount_text(minimum),
                subtotal=_amount_text(subtotal),
            )
        ]
    if promotion.kind == FIXED and promotion.value > subtotal:
        return [
            gettext(
                "The code %(code)s takes %(value)s off, more than this order's subtotal of "
                "%(subtotal)s.",
                code=code,
                value=_amount_text(promotion.value),
                subtotal=_amount_text(subtotal),
            )
        ]
    return []


def _discount(promotion: PromotionInput, subtotal: Decimal) -> Decimal:
    if promotion.kind == PERCENTAGE:
        with localcontext() as context:
            context.prec = 60
            return cents(subtotal * promotion.value / HUNDRED)
    return promotion.value


def _line_problems(lines: Sequence[LineInput]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not lines:
        errors["lines"] = [
            gettext("An order needs at least one line: add a product and a quantity.")
        ]
        return errors
    for index, line in enumerate(lines):
        if not 1 <= line.quantity <= MAX_QUANTITY:
            errors[f"lines-{index}-quantity"] = [quantity_range_message()]
    retired = sorted(line.sku for line in lines if not line.active and not line.kept)
    if retired:
        errors.setdefault("lines", []).append(
            gettext(
                "No longer sold (the product is inactive), so it cannot be added to an "
                "order: %(skus)s. Choose an active product.",
                skus=", ".join(retired),
            )
        )

    def product_of(line: LineInput) -> Any:
        return line.product_id if line.product_id is not None else line.sku.lower()

    seen: dict[Any, int] = {}
    for line in lines:
        seen[product_of(line)] = seen.get(product_of(line), 0) + 1
    repeated = sorted({line.sku for line in lines if seen[product_of(line)] > 1})
    if repeated:
        errors.setdefault("lines", []).append(
            gettext(
                "Each product may appear on one line only; change the quantity instead of "
                "adding it again: %(skus)s.",
                skus=", ".join(repeated),
            )
        )
    return errors


def quote(
    lines: Sequence[LineInput],
    *,
    code: str | None = None,
    promotion: PromotionInput | None = None,
    shipping: ShippingInput | None = None,
    rules: PricingRules = PricingRules(),
    now: dt.datetime,
) -> Quote:
    """Price an order: its lines, the code typed (and the promotion found for it, None
    when there is none), the shipping method chosen, the shop's rules, at ``now``."""
    errors = _line_problems(lines)
    inclusive = rules.prices_include_tax
    totals = [cents(line.unit_price * line.quantity) for line in lines]
    subtotal = sum(totals, ZERO)

    discount = ZERO
    code = (code or "").strip() or None
    recorded_code = code
    promotion_id = None
    if code is not None:
        if promotion is None:
            errors["coupon_code"] = [
                gettext("There is no promotion code %(code)s; check the spelling.", code=code)
            ]
        else:
            problems = promotion_problems(promotion, subtotal, now)
            if problems:
                errors["coupon_code"] = problems
            else:
                discount = _discount(promotion, subtotal)
                recorded_code, promotion_id = promotion.code, promotion.id

    shipping_total = ZERO
    if shipping is not None:
        if not shipping.active and not shipping.held:
            errors["shipping_method"] = [
                gettext(
                    "%(name)s is no longer offered; choose another shipping method.",
                    name=shipping.name,
                )
            ]
        free = shipping.free_above is not None and subtotal >= shipping.free_above
        shipping_total = ZERO if free else shipping.price

    shares = allocate(discount, totals)
    quoted: list[QuotedLine] = []
    by_rate: dict[Decimal, dict[str, Any]] = {}

    def add(rate: Decimal, name: str, base: Decimal, tax: Decimal) -> None:
        group = by_rate.setdefault(rate, {"names": [], "base": ZERO, "tax": ZERO})
        if name not in group["names"]:
            group["names"].append(name)
        group["base"] += base
        group["tax"] += tax

    for line, line_total, share in zip(lines, totals, shares, strict=True):
        amount = line_total - share
        if inclusive:
            tax = included_tax(amount, line.tax_rate)
            base = amount - tax
        else:
            tax = added_tax(amount, line.tax_rate)
            base = amount
        add(line.tax_rate, line.tax_name, base, tax)
        short = line.stock is not None and line.stock < line.quantity
        quoted.append(
            QuotedLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                tax_name=line.tax_name,
                line_total=line_total,
                discount=share,
                base=base,
                tax=tax,
                product_id=line.product_id,
                available=not short,
                short=short,
                inactive=not line.active,
                stock=line.stock,
            )
        )
    if shipping_total:
        rate = rules.shipping_tax_rate
        if inclusive:
            tax = included_tax(shipping_total, rate)
            base = shipping_total - tax
        else:
            tax = added_tax(shipping_total, rate)
            base = shipping_total
        name = by_rate[rate]["names"][0] if rate in by_rate else rules.shipping_tax_name
        add(rate, name, base, tax)

    taxes = tuple(
        TaxAmount(
            rate=rate,
            name=" / ".join(group["names"])[:TAX_NAME_LENGTH],
            base=group["base"],
            tax=group["tax"],
        )
        for rate, group in sorted(by_rate.items())
    )
    tax_total = sum((t.tax for t in taxes), ZERO)
    total = subtotal - discount + shipping_total
    if not inclusive:
        total += tax_total
    if max(total, subtotal) > MAX_AMOUNT:
        errors.setdefault("lines", []).append(
            f"The order would come to {money_text(max(total, subtotal))}, more than the "
            f"largest amount an order can hold ({money_text(MAX_AMOUNT)}): split it."
        )
    return Quote(
        lines=tuple(quoted),
        subtotal=subtotal,
        discount_total=discount,
        shipping_total=shipping_total,
        tax_total=tax_total,
        total=total,
        taxes=taxes,
        prices_include_tax=inclusive,
        coupon_code=recorded_code,
        promotion_id=promotion_id,
        shipping_method_id=shipping.id if shipping is not None else None,
        shipping_method_name=shipping.name if shipping is not None else None,
        shipping_tax_rate=rules.shipping_tax_rate if shipping_total else None,
        errors=MappingProxyType({name: tuple(messages) for name, messages in errors.items()}),
    )
