"""The words the console's scripts (``console/static/js``) write into pages.

The page's Content Security Policy forbids inline scripts, so the translated words
cannot be written into a script by the template. Each admin page carries them instead
as data, ``<script type="application/json" id="script-texts">`` (templates/admin/
master.html), which ``js/texts.js`` reads; a script asks for a text by its key,
``consoleText("session.stay")``, with ``%(name)s`` placeholders filled from an object.
``tests/test_translations.py`` fails when a script holds prose of its own or asks for a
key missing here.
"""

from __future__ import annotations

from flask_babel import LazyString, lazy_gettext

SCRIPT_TEXTS: dict[str, LazyString] = {
    # forms.js: names Flask-Admin's unnamed controls for screen readers.
    "forms.remove": lazy_gettext("Remove"),
    "forms.remove_choice": lazy_gettext("Remove %(choice)s"),
    "forms.select_all": lazy_gettext("Select all records"),
    "forms.select_record": lazy_gettext("Select record %(id)s"),
    "forms.help": lazy_gettext("Help"),
    # session.js: the warning before an idle session ends, and its end.
    "session.warning": lazy_gettext("Without activity you will be signed out in about %(time)s."),
    "session.second": lazy_gettext("%(count)s second"),
    "session.seconds": lazy_gettext("%(count)s seconds"),
    "session.minute": lazy_gettext("%(count)s minute"),
    "session.minutes": lazy_gettext("%(count)s minutes"),
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
    # jobs.js: a job's progress.
    "jobs.rows": lazy_gettext("%(done)s rows"),
    "jobs.rows_of": lazy_gettext("%(done)s of %(total)s rows"),
    # order/list.html: the bulk reject asks for the reason.
    "orders.reject_reason": lazy_gettext(
        "Reason for rejecting the selected orders (the customers read it):"
    ),
}
"""Every text a script shows, by key, in the reader's language when the page is drawn."""


def script_texts() -> dict[str, str]:
    """The scripts' texts in the page's language (for the page's JSON block)."""
    return {key: str(text) for key, text in SCRIPT_TEXTS.items()}
