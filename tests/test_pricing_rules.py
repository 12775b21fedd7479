"""The pricing rule (``console.services.pricing.quote``), on examples and random orders.

The property tests draw orders of random lines (prices, quantities, tax rates), with
prices with or without tax, percentage or fixed codes and shipping with or without a
"free from" amount, and check that every figure adds up to the cent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.services.pricing import (
    CENT,
    LineInput,
    PricingRules,
    PromotionInput,
    ShippingInput,
    added_tax,
    allocate,
    included_tax,
    quote,
)

NOW = dt.datetime(2026, 12, 3, 12, 0)
D = Decimal


def line(price: str, quantity: int = 1, rate: str = "0", sku: str = "A", **extra) -> LineInput:
    return LineInput(
        sku=sku,
        name=f"Product {sku}",
        unit_price=D(price),
        tax_rate=D(rate),
        tax_name=f"Rate {rate}",
        quantity=quantity,
        **extra,
    )


def percent_off(value: str, **extra) -> PromotionInput:
    return PromotionInput(code="OFF", kind="percentage", value=D(value), id=1, **extra)


def amount_off(value: str, **extra) -> PromotionInput:
    return PromotionInput(code="OFF", kind="fixed", value=D(value), id=1, **extra)


# --- examples -------------------------------------------------------------------------


def test_the_documented_allocation_example():
    """docs/pricing.md: 10.00 over three lines of 30.00 gives 3.34, 3.33, 3.33."""
    assert allocate(D("10.00"), [D("30.00")] * 3) == [D("3.34"), D("3.33"), D("3.33")]


def test_allocation_gives_leftover_cents_to_the_largest_remainders():
    # Exact shares 1.666..., 3.333...: the larger remainder (0.6) gets the cent.
    assert allocate(D("5.00"), [D("10.00"), D("20.00")]) == [D("1.67"), D("3.33")]


def test_exclusive_prices_add_tax_per_line_rounded_half_up():
    # 3 × 0.15 at 10 % is 0.045 of tax: half-up gives 0.05.
    result = quote([line("0.15", 3, "10")], now=NOW)
    assert (result.subtotal, result.tax_total, result.total) == (D("0.45"), D("0.05"), D("0.50"))


def test_inclusive_prices_show_the_tax_they_include():
    rules = PricingRules(prices_include_tax=True)
    result = quote([line("12.00", 1, "20")], rules=rules, now=NOW)
    assert (result.subtotal, result.tax_total, result.total) == (D("12.00"), D("2.00"), D("12.00"))
    [tax] = result.taxes
    assert (tax.base, tax.tax) == (D("10.00"), D("2.00"))


def test_discount_lowers_the_tax_of_each_rate_in_proportion():
    lines = [line("100.00", 1, "20", "A"), line("100.00", 1, "5.5", "B")]
    result = quote(lines, code="OFF", promotion=percent_off("10"), now=NOW)
    assert result.discount_total == D("20.00")
    taxes = {t.rate: (t.base, t.tax) for t in result.taxes}
    assert taxes == {D("5.5"): (D("90.00"), D("4.95")), D("20"): (D("90.00"), D("18.00"))}
    assert result.total == D("200.00") - D("20.00") + D("22.95")


def test_shipping_is_free_from_its_amount_and_taxed_at_the_shop_rate():
    standard = ShippingInput(name="Standard", price=D("4.90"), free_above=D("50.00"), id=1)
    rules = PricingRules(shipping_tax_rate=D("20"))
    below = quote([line("49.99")], shipping=standard, rules=rules, now=NOW)
    assert (below.shipping_total, below.tax_total, below.total) == (
        D("4.90"),
        D("0.98"),
        D("55.87"),
    )
    reached = quote([line("50.00")], shipping=standard, rules=rules, now=NOW)
    assert (reached.shipping_total, reached.total) == (D("0.00"), D("50.00"))


@pytest.mark.parametrize(
    ("promotion", "message"),
    [
        (None, "There is no promotion code OFF"),
        (percent_off("10", active=False), "no longer active"),
        (percent_off("10", valid_from=NOW + dt.timedelta(days=1)), "not valid yet"),
        (percent_off("10", valid_until=NOW - dt.timedelta(seconds=1)), "expired"),
        (percent_off("10", usage_limit=3, times_used=3), "used up"),
        (percent_off("10", per_customer_limit=1, customer_uses=1), "used the code OFF already"),
        (percent_off("10", minimum_subtotal=D("30.00")), "at least 30.00"),
        (amount_off("25.01"), "more than this order's subtotal of 25.00"),
    ],
)
def test_codes_that_cannot_apply_are_refused_on_the_coupon_field(promotion, message):
    result = quote([line("12.50", 2)], code="OFF", promotion=promotion, now=NOW)
    assert not result.ok
    assert set(result.errors) == {"coupon_code"}
    assert message in result.errors["coupon_code"][0]
    assert result.discount_total == 0


def test_a_code_the_order_holds_stays_though_expired_or_used_up_since():
    held = percent_off(
        "10", valid_until=NOW - dt.timedelta(days=1), usage_limit=1, times_used=1, held=True
    )
    result = quote([line("20.00")], code="off", promotion=held, now=NOW)
    assert result.ok and result.discount_total == D("2.00")
    assert result.coupon_code == "OFF"  # recorded as the promotion spells it


def test_bad_lines_are_reported():
    assert "at least one line" in quote([], now=NOW).errors["lines"][0]
    too_many = quote([line("1.00", 1_000_001)], now=NOW)
    assert "at most 1,000,000" in too_many.errors["lines-0-quantity"][0]
    retired = quote([line("1.00", active=False)], now=NOW)
    assert "No longer sold" in retired.errors["lines"][0]
    kept = quote([line("1.00", active=False, kept=True)], now=NOW)
    assert kept.ok and kept.lines[0].inactive
    twice = quote(
        [line("1.00", sku="A", product_id=1), line("2.00", sku="A", product_id=1)], now=NOW
    )
    assert "one line only" in twice.errors["lines"][0]
    huge = quote([line("9999999999.99", 2)], now=NOW)
    assert "largest amount" in huge.errors["lines"][0]


def test_stock_flags():
    result = quote([line("1.00", 3, stock=3, sku="A"), line("1.00", 4, stock=3, sku="B")], now=NOW)
    assert [(q.available, q.short) for q in result.lines] == [(True, False), (False, True)]


# --- properties over random orders ----------------------------------------------------

prices = st.decimals(min_value=D("0.00"), max_value=D("5000.00"), places=2)
rates = st.sampled_from([D("0"), D("2.1"), D("5.5"), D("7"), D("10"), D("19.6"), D("20"), D("25")])


@st.composite
def orders(draw):
    lines = [
        line(str(draw(prices)), draw(st.integers(1, 50)), str(draw(rates)), sku=f"P{i}")
        for i in range(draw(st.integers(1, 8)))
    ]
    kind = draw(st.sampled_from([None, "percentage", "fixed"]))
    promotion = None
    if kind == "percentage":
        promotion = percent_off(str(draw(st.decimals(D("0"), D("100"), places=2))))
    elif kind == "fixed":
        subtotal = sum((x.unit_price * x.quantity for x in lines), D(0))
        promotion = amount_off(str(draw(st.decimals(D("0"), subtotal, places=2))))
    shipping = draw(
        st.one_of(
            st.none(),
            st.builds(
                ShippingInput,
                name=st.just("Ship"),
                price=prices,
                free_above=st.one_of(st.none(), prices),
                id=st.just(1),
            ),
        )
    )
    rules = PricingRules(prices_include_tax=draw(st.booleans()), shipping_tax_rate=draw(rates))
    return lines, promotion, shipping, rules


@settings(max_examples=400, deadline=None)
@given(orders())
def test_every_figure_adds_up_to_the_cent(order):
    lines, promotion, shipping, rules = order
    result = quote(
        lines,
        code="OFF" if promotion else None,
        promotion=promotion,
        shipping=shipping,
        rules=rules,
        now=NOW,
    )
    assert result.ok, result.errors
    figures = [result.subtotal, result.discount_total, result.shipping_total, result.tax_total]
    assert all(value == value.quantize(CENT) for value in [*figures, result.total])
    assert result.subtotal == sum((q.line_total for q in result.lines), D(0))
    assert sum((q.discount for q in result.lines), D(0)) == result.discount_total
    assert all(D(0) <= q.discount <= q.line_total for q in result.lines)
    assert 0 <= result.discount_total <= result.subtotal
    assert result.tax_total == sum((t.tax for t in result.taxes), D(0))
    shipping_tax = result.tax_total - sum((q.tax for q in result.lines), D(0))
    expected = (included_tax if rules.prices_include_tax else added_tax)(
        result.shipping_total, rules.shipping_tax_rate
    )
    assert shipping_tax == expected
    if rules.prices_include_tax:
        assert result.total == result.subtotal - result.discount_total + result.shipping_total
    else:
        assert result.total == (
            result.subtotal - result.discount_total + result.shipping_total + result.tax_total
        )
    assert result.total == sum((t.base + t.tax for t in result.taxes), D(0))
    for q in result.lines:
        taxed = q.line_total - q.discount
        exact = taxed * q.tax_rate / (100 + q.tax_rate if rules.prices_include_tax else 100)
        assert abs(q.tax - exact) <= D("0.005")
    if shipping is not None and shipping.free_above is not None:
        free = result.subtotal >= shipping.free_above
        assert (result.shipping_total == 0) if free else result.shipping_total == shipping.price


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(D("0"), D("100000"), places=2),
    st.lists(st.decimals(D("0.01"), D("100000"), places=2), min_size=1, max_size=12),
)
def test_allocation_splits_exactly_and_never_beyond_a_line(amount, weights):
    amount = min(amount, sum(weights, D(0)))
    shares = allocate(amount, weights)
    assert sum(shares, D(0)) == amount
    assert all(D(0) <= share <= weight for share, weight in zip(shares, weights, strict=True))
    exact = [amount * w / sum(weights, D(0)) for w in weights]
    assert all(abs(s - e) < CENT for s, e in zip(shares, exact, strict=True))
