"""Languages and locale formats: which language a page or an e-mail is written in, and
how its money and times read.

The console speaks English, German and French (``config.LANGUAGES``). A page takes
the language of the signed-in person's profile, else the best match of the browser's
``Accept-Language`` among those, else the shop's (``DEFAULT_LOCALE``). A customer's
e-mails and order page take the customer's language, else the shop's
(``recipient_locale`` with ``flask_babel.force_locale``). An unknown language, in a
profile or a forged header, falls back to the default and never breaks a page.
A staff member's e-mails (invitation, finished job, sign-in mail) take their profile's
language, else the shop's, the same way (``recipient_locale``).

Flask-Babel chooses through ``select_locale`` / ``select_timezone``; Flask-Admin and
Flask-Security-Too use it for their own bundled catalogues (their ``admin`` and
``flask_security`` domains), the console's strings come from ``console/translations``.

The catalogues are kept as ``.po`` files; their ``.mo`` twins are compiled when the app
is created (``compile_catalogues``), so the README's commands need no extra step.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import force_locale, format_currency, format_number, get_locale
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from config import LANGUAGES
from console import localtime
from console.extensions import babel
from console.script_texts import script_texts

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
"""The console's catalogues: ``<language>/LC_MESSAGES/messages.po`` (and its ``.mo``)."""

LOCALES = {"en": "en", "de": "de_DE", "fr": "fr_FR"}
"""The Babel locale each language is read in. Flask-Security-Too ships its catalogues
as ``de_DE`` and ``fr_FR`` while Flask-Admin and the console ship ``de`` and ``fr``;
gettext looks a ``de_DE`` locale up as ``de_DE`` then ``de``, so one locale finds all
three (a plain ``de`` would miss Flask-Security-Too's)."""

LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français"}
"""Each language in its own words, as the language selects offer it."""


def known_language(value: str | None) -> str | None:
    """``value`` when it is one of the console's languages, else None (never raises)."""
    value = (value or "").strip().lower()
    return value if value in LANGUAGES else None


def default_language() -> str:
    """The shop's language (``DEFAULT_LOCALE``); English when it is not a known one."""
    return known_language(current_app.config.get("DEFAULT_LOCALE")) or LANGUAGES[0]


def _profile_language() -> str | None:
    """The signed-in person's chosen language, or None (anonymous, none chosen, or the
    account cannot be read: an error page for a dead database still renders)."""
    try:
        if not current_user.is_authenticated:
            return None
        return known_language(getattr(current_user, "language", None))
    except SQLAlchemyError:
        return None


def browser_language() -> str | None:
    """The first of the browser's ``Accept-Language`` choices, by quality, that the
    console speaks, matched on the primary subtag (``fr-CH`` reads French).

    Werkzeug's ``best_match`` would compare ``fr-CH`` with ``fr`` only after every
    exact match failed, so ``fr-CH, de;q=0.5`` would read German.
    """
    for value, _quality in request.accept_languages:
        language = known_language(value.replace("_", "-").split("-")[0])
        if language:
            return language
    return None


def select_language() -> str:
    """The language of this request: profile, then ``Accept-Language``, then the shop's."""
    if has_request_context():
        chosen = _profile_language() or browser_language()
        if chosen:
            return chosen
    return default_language()


def select_locale() -> str:
    """Flask-Babel's locale selector (see ``LOCALES`` for why ``de_DE``, not ``de``)."""
    return LOCALES[select_language()]


def select_timezone() -> str:
    """Flask-Babel's time-zone selector: the person's zone, else the shop's."""
    return localtime.person_zone().key


def recipient_locale(person: Any) -> str:
    """The locale what is written for ``person`` is in (for ``flask_babel.force_locale``),
    whoever's request writes it: a customer's e-mails and order page, a staff member's
    e-mails. Their ``language``, else the shop's."""
    return LOCALES[known_language(getattr(person, "language", None)) or default_language()]


@contextmanager
def writing_for(person: Any) -> Iterator[None]:
    """Within the block, what is written reads as ``person`` reads it: in their language
    (``recipient_locale``) and, for times, in their zone with the zone named
    (``localtime.recipient_zone``), whoever's request or runner writes it. Staff and
    customer e-mails are rendered inside it."""
    with force_locale(recipient_locale(person)), localtime.zone_of(person):
        yield


def page_language() -> str:
    """The language code of what is being rendered (``de``): for ``<html lang>``."""
    locale = get_locale()
    return locale.language if locale is not None else default_language()


def format_count(number: int) -> str:
    """A count as the reader's locale groups it: ``1,234`` (en), ``1.234`` (de),
    ``1 234`` (fr); as English groups it where nobody reads (outside an app)."""
    if get_locale() is None:
        return f"{number:,}"
    return format_number(number)


def format_money(value: Decimal | None, currency: str | None = None) -> str:
    """``value`` in the shop's currency as the reader's locale writes it: ``€1,234.56``
    (en), ``1.234,56 €`` (de), ``1 234,56 €`` (fr, with a narrow no-break space)."""
    if value is None:
        return ""
    currency = currency or current_app.config["CONSOLE_CURRENCY"]
    locale = get_locale()
    if locale is not None:
        written = money_writer(locale, currency)
        if written is not None:
            return written(Decimal(value))
    return format_currency(Decimal(value), currency)


@functools.lru_cache(maxsize=64)
def money_writer(locale: Locale, currency: str) -> Callable[[Decimal], str] | None:
    """What Babel's ``format_currency(value, currency, locale=locale)`` writes, prepared
    once per locale and currency; None where the locale's pattern is one this does not
    cover (Babel formats those).

    Babel works the pattern out again for every amount (and looks up the currency's
    plural name, which the standard pattern never shows): about 15 µs an amount, a
    tenth of a list page of 50 orders. The prepared writer is Python's own grouping
    and rounding (the decimal context's, as Babel's ``quantize``) with the locale's
    symbols put in: the same text, compared with Babel's on a few amounts when it is
    prepared, and checked against Babel by a property test (tests/test_money_format.py).
    """
    pattern = locale.currency_formats["standard"]
    affixes = (*pattern.prefix, *pattern.suffix)
    if (
        pattern.grouping != (3, 3)
        or pattern.int_prec[0] != 1
        or pattern.scale != 0
        or pattern.exp_prec
        or "@" in pattern.pattern
        or not pattern.number_pattern
        or any("'" in affix or "¤¤" in affix for affix in affixes)
    ):
        return None
    symbol = numbers.get_currency_symbol(currency, locale)
    positive_prefix, negative_prefix = (p.replace("¤", symbol) for p in pattern.prefix)
    positive_suffix, negative_suffix = (p.replace("¤", symbol) for p in pattern.suffix)
    digits = numbers.get_currency_precision(currency)
    spelled = str.maketrans(
        {",": numbers.get_group_symbol(locale), ".": numbers.get_decimal_symbol(locale)}
    )
    number_format = f",.{digits}f"

    def write(value: Decimal) -> str:
        number = format(abs(value), number_format).translate(spelled)
        if value.is_signed():
            return negative_prefix + number + negative_suffix
        return positive_prefix + number + positive_suffix

    # Babel's own quirks win: where its text differs on these (Swiss locales, whose
    # group symbol is an apostrophe, lose it to Babel's unquoting), Babel writes.
    if any(
        write(probe) != numbers.format_currency(probe, currency, locale=locale) for probe in _PROBES
    ):
        return None
    return write


_PROBES = (Decimal("1234567.891"), Decimal("-1234.5"), Decimal("-0.00"), Decimal("0.005"))


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``.po`` under ``directory`` whose ``.mo`` is missing or older.

    Runs at app creation, so that the README's commands (``python run.py``, pytest,
    gunicorn) find the catalogues compiled with no extra command. Several processes may
    start together (gunicorn workers, test runs): each writes to a temporary file beside
    the target and renames it into place, so nobody reads a half-written ``.mo``.
    Returns the files compiled.
    """
    compiled = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parts[-3])
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(temporary, mo_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        compiled.append(mo_path)
    return compiled


def init_app(app: Flask) -> None:
    """Compile the catalogues, bind Flask-Babel with the console's choices, and give
    templates ``value | money``, ``page_language()`` and the language names."""
    compile_catalogues()
    default = known_language(app.config.get("DEFAULT_LOCALE")) or LANGUAGES[0]
    babel.init_app(
        app,
        default_locale=LOCALES[default],
        default_timezone=app.config.get("SHOP_TIMEZONE") or localtime.DEFAULT_ZONE,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
        timezone_selector=select_timezone,
    )
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.globals["page_language"] = page_language
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
    app.jinja_env.globals["script_texts"] = script_texts
