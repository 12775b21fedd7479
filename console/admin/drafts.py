"""A form posted after its session ended is kept, and comes back into the form after
sign-in (mixed into ``SecuredModelView``).

When the idle timeout or the server-side session check has ended a session
(``console.security.sessions.end_session_unasked``), a create or edit form of this
browser posted afterwards is not lost: its fields are kept for the person whose
session it was (``console.services.drafts``), and the sign-in page is given a return
address that names the draft (``?draft=<key>``). Once that same person has signed in
again, the form page takes the draft back and shows the form filled in with it, with
a message; nothing is saved until they press Save. Another person signing in on that
browser gets the plain form.

What is not kept: passwords and other secrets, the CSRF token, the create form's
one-time token (the restored form gets a fresh one) and the pressed button. An edit
form keeps the version it was opened on, so the optimistic concurrency check still
refuses a save over someone else's later change.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import flash, g, redirect, request, url_for
from flask_babel import lazy_gettext
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict

from console.admin.submissions import FIELD as SUBMISSION_FIELD
from console.database import db
from console.models.base import utcnow
from console.security.sessions import ended_session_user
from console.services import drafts

DRAFT_PARAMETER = "draft"
"""Where the form page's address carries the key of the draft to bring back."""

FORM_ENDPOINTS = frozenset({"create_view", "edit_view"})
"""The endpoints whose posted forms are kept and brought back."""

RESTORED_MESSAGE = lazy_gettext(
    "You were signed out before your changes were saved. Your entries are back in the "
    "form: check them and press Save."
)
KEPT_MESSAGE = lazy_gettext(
    "Nothing was saved, but what you typed is kept: sign in again to get back to the form "
    "with your entries."
)


class FormDraftMixin:
    """Keep a form posted after the session ended; bring it back after sign-in."""

    def inaccessible_callback(self, name: str, **kwargs: Any):
        kept = self._keep_posted_form(name)
        if kept is not None:
            return kept
        return super().inaccessible_callback(name, **kwargs)  # type: ignore[misc]

    def _keep_posted_form(self, name: str):
        """The sign-in redirect naming a kept draft, or None when nothing is to be kept."""
        if current_user.is_authenticated or request.method != "POST":
            return None
        if name not in FORM_ENDPOINTS:
            return None
        user_id = ended_session_user()
        if user_id is None:
            return None
        fields = drafts.kept_fields(
            request.form.items(multi=True), excluded=(SUBMISSION_FIELD, DRAFT_PARAMETER)
        )
        key = drafts.keep(
            db.session, user_id, request.endpoint or "", _record_id(), fields, utcnow()
        )
        if key is None:
            return None
        flash(str(KEPT_MESSAGE), "info")
        return redirect(url_for("security.login", next=_form_address(key)))

    def create_form(self, obj: Any = None):
        restored = self._restored_fields()
        if restored is None:
            return super().create_form(obj)  # type: ignore[misc]
        return self._create_form_class(restored, obj=obj)  # type: ignore[attr-defined]

    def edit_form(self, obj: Any = None):
        restored = self._restored_fields()
        if restored is None:
            return super().edit_form(obj)  # type: ignore[misc]
        return self._edit_form_class(restored, obj=obj)  # type: ignore[attr-defined]

    def restoring_draft(self) -> bool:
        """True while this request shows a form filled in from a draft.

        A view whose ``on_form_prefill`` sets fields from the record must leave them
        alone then: Flask-Admin calls it after building the form, and the person's
        entries are what the form must show.
        """
        return self._restored_fields() is not None

    def _restored_fields(self) -> ImmutableMultiDict | None:
        """The draft this page's address names, taken back once, as form data.

        Only on a GET of the form page by the draft's own person; a POST (the person
        pressing Save on the restored form) reads the form as posted.
        """
        if request.method != "GET" or not current_user.is_authenticated:
            return None
        key = request.args.get(DRAFT_PARAMETER)
        if not key:
            return None
        cache = g.setdefault("console_restored_drafts", {})
        if key not in cache:
            fields = drafts.take(
                db.session, key, current_user.id, request.endpoint or "", _record_id(), utcnow()
            )
            cache[key] = None if fields is None else ImmutableMultiDict(fields)
            if fields is not None:
                flash(str(RESTORED_MESSAGE), "warning")
        return cache[key]


def _record_id() -> str | None:
    """The record an edit form is for (its ``id`` argument), None on a create form."""
    record_id = request.args.get("id")
    return record_id[:40] if record_id else None


def _form_address(key: str) -> str:
    """This form page's address (path and query), naming draft ``key``."""
    query = [(name, value) for name, value in request.args.items(multi=True)]
    query = [(name, value) for name, value in query if name != DRAFT_PARAMETER]
    query.append((DRAFT_PARAMETER, key))
    return f"{request.path}?{urlencode(query)}"
