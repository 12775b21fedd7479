"""The words the console's scripts (``console/static/js``) write into pages.

The page's Content Security Policy forbids inline scripts, so the translated words
cannot be written into a script by the template. Each admin page carries them instead
as data, ``<script type="application/json" id="script-texts">`` (templates/admin/
master.html), which ``js/texts.js`` reads; a script asks for a text by its key,
``consoleText("session.stay")``, with ``%(name)s`` placeholders filled from an object.
``tests/test_translations.py`` fails when a script holds prose of its own or asks for a
key missing here.

A text whose wording depends on a number the script learns only later (the seconds left,
the rows done) is in ``PLURAL_TEXTS``: the page carries each of its forms, by the
language's plural category (CLDR's ``one``, ``many``, ``other``...), and
``consolePlural("session.seconds", n, {count: n})`` picks the one the browser's
``Intl.PluralRules`` gives ``n`` in the page's language. French counts 0 and 1 as
singular and German only 1, which an English ``n === 1`` test got wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from babel import Locale
from flask import current_app
from flask_babel import LazyString, get_locale, lazy_gettext, ngettext

SCRIPT_TEXTS: dict[str, LazyString] = {
    # forms.js: names Flask-Admin's unnamed controls for screen readers.
    "forms.remove": lazy_gettext("Remove"),
    "forms.remove_choice": lazy_gettext("Remove %(choice)s"),
    "forms.select_all": lazy_gettext("Select all records"),
    "forms.select_record": lazy_gettext("Select record %(id)s"),
    "forms.help": lazy_gettext("Help"),
    # session.js: the warning before an idle session ends, and its end.
    "session.warning": lazy_gettext("Without activity you will be signed out in about %(time)s."),
    "session.stay": lazy_gettext("Stay signed in"),
    "session.ended": lazy_gettext("Your session has ended."),
    "session.ended_in_form": lazy_gettext(
        "Your session has ended. Nothing you typed is lost: press Save, sign in again, and "
        "your entries come back in the form."
    ),
    "session.sign_in_again": lazy_gettext("Sign in again"),
    # order-grid.js: the order form's figures, computed by the server as one types.
    "grid.short": lazy_gettext("Short: %(stock)s in stock"),
    "grid.inactive": lazy_gettext("Inactive product"),
    "grid.tax": lazy_gettext("Tax"),
    "grid.updating": lazy_gettext("Updating the figures…"),
    "grid.correct": lazy_gettext("Correct the fields marked to see the figures."),
    "grid.not_saved": lazy_gettext("Not saved like this: see the messages marked."),
    "grid.computed": lazy_gettext("Figures computed by the server; saving stores exactly these."),
    "grid.failed": lazy_gettext(
        "The figures could not be updated (%(error)s); they are computed again when you save."
    ),
    "grid.session_ended": lazy_gettext("your session may have ended"),
    "grid.answered": lazy_gettext("the console answered %(status)s"),
    # addresses.js: the order form's address pickers, listing another customer's book
    # (the pickers' fixed choices come with the page: console.admin.addresses).
    "addresses.is_default": lazy_gettext("%(label)s (default)"),
    # order/list.html: the bulk reject asks for the reason.
    "orders.reject_reason": lazy_gettext(
        "Reason for rejecting the selected orders (the customers read it):"
    ),
}
"""Every text a script shows, by key, in the reader's language when the page is drawn."""

PLURAL_TEXTS: dict[str, Callable[[int], str]] = {
    # session.js: the time left, in words.
    "session.seconds": lambda n: ngettext(
        "%(count)s second", "%(count)s seconds", n, count="%(count)s"
    ),
    "session.minutes": lambda n: ngettext(
        "%(count)s minute", "%(count)s minutes", n, count="%(count)s"
    ),
    # jobs.js (and the job page as drawn): a job's progress, by rows done or of a total.
    "jobs.rows": lambda n: ngettext("%(done)s row", "%(done)s rows", n, done="%(done)s"),
    "jobs.rows_of": lambda n: ngettext(
        "%(done)s of %(total)s row",
        "%(done)s of %(total)s rows",
        n,
        done="%(done)s",
        total="%(total)s",
    ),
}
"""Every text a script shows with a number, by key: its wording for a count ``n``, with
the placeholders left for the script to fill (``%(count)s``)."""

SAMPLE_COUNTS = (*range(0, 200), 1_000_000)
"""Counts tried to find one of each plural category: CLDR's rules for the console's
languages place each category among them (French ``many``: a million)."""


@cache
def plural_samples(locale: Locale) -> dict[str, int]:
    """A count of each plural category ``locale`` has: ``{"one": 0, "many": 1000000,
    "other": 2}`` for French (the first count found of each)."""
    samples: dict[str, int] = {}
    for n in SAMPLE_COUNTS:
        samples.setdefault(locale.plural_form(n), n)
    return samples


def script_texts() -> dict[str, str | dict[str, str]]:
    """The scripts' texts in the page's language (for the page's JSON block); a plural
    text as its wording for each plural category of the language.

    Worked out once per language and app (every admin page carries them): the
    catalogues are compiled when the app is created and do not change while it runs.
    """
    locale = get_locale() or Locale("en")
    known = current_app.extensions.setdefault("console_script_texts", {})
    texts = known.get(str(locale))
    if texts is None:
        texts = known[str(locale)] = _texts_in(locale)
    return texts


def _texts_in(locale: Locale) -> dict[str, str | dict[str, str]]:
    texts: dict[str, str | dict[str, str]] = {key: str(text) for key, text in SCRIPT_TEXTS.items()}
    samples = plural_samples(locale)
    for key, wording in PLURAL_TEXTS.items():
        texts[key] = {category: wording(n) for category, n in samples.items()}
    return texts
