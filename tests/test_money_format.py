"""Amounts are written as Babel writes them, through a writer prepared once per locale
and currency (``console.i18n.money_writer``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from console.i18n import money_writer

# The console's languages, then locales whose patterns differ: other symbols and
# places (de_CH, nl, ar), other grouping (en_IN, hi: Babel's own), no decimals (JPY).
LOCALES = ["en", "de", "fr", "de_CH", "de_AT", "nl", "en_IN", "hi", "ar", "ja", "fr_CH"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "INR"]

amounts = st.one_of(
    st.decimals(min_value=-(10**10), max_value=10**10, places=2, allow_nan=False),
    st.decimals(min_value=-(10**6), max_value=10**6, places=5, allow_nan=False),
    st.sampled_from(
        [
            Decimal("0"),
            Decimal("-0.00"),
            Decimal("0.005"),
            Decimal("-0.015"),
            Decimal("999.995"),
            Decimal("1234.5"),
            Decimal("1E+3"),
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    amount=amounts,
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(CURRENCIES),
)
def test_the_prepared_writer_writes_what_babel_writes(amount, locale, currency):
    parsed = Locale.parse(locale)
    writer = money_writer(parsed, currency)
    if writer is None:  # a pattern the writer leaves to Babel
        return
    assert writer(amount) == format_currency(amount, currency, locale=parsed)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "€1,234.56"), ("de", "1.234,56\xa0€"), ("fr", "1\u202f234,56\xa0€")],
)
def test_the_console_languages_are_prepared(locale, expected):
    writer = money_writer(Locale.parse(locale), "EUR")
    assert writer is not None
    assert writer(Decimal("1234.56")) == expected
