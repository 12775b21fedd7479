"""One-time create forms for every model view (mixed into ``SecuredModelView``).

Each create form carries a fresh token in a hidden ``submission`` field. Creating the
record records the token in the same transaction (``console.services.submissions``),
so the same form submitted twice (a double click, a resent request, a second tab,
two requests at once) creates one record: the second submission creates nothing and
lands on the record the first one made, with a message. The submit buttons are also
disabled after the first click (``static/js/forms.js``), but this server rule is the
one that counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request
from flask_admin import expose
from flask_babel import gettext
from sqlalchemy import event
from wtforms.fields import HiddenField

from console.database import db
from console.models import FormSubmission
from console.services import submissions

FIELD = "submission"


class SubmissionTokenField(HiddenField):
    """The create form's one-time token; never copied onto the record."""

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


class OneTimeCreateMixin:
    """A create form submitted twice creates one record."""

    def get_create_form(self):
        form_class = super().get_create_form()
        field = SubmissionTokenField(default=submissions.new_token)
        return type(form_class.__name__, (form_class,), {FIELD: field})

    def _posted_token(self) -> str | None:
        token = request.form.get(FIELD, "").strip() if request.method == "POST" else ""
        return token[: submissions.MAX_TOKEN_LENGTH] or None

    def _already_created(self, record_id: int | None):
        """Where a repeated submission lands: the record the first one made."""
        if record_id is None:
            flash(
                gettext(
                    "This form was already submitted and its record is being saved; nothing "
                    "new was created."
                ),
                "warning",
            )
            return redirect(self.get_url(".index_view"))
        flash(
            gettext(
                "This form was already submitted; here is the record it created. Nothing new "
                "was created."
            ),
            "warning",
        )
        if self.can_view_details:
            return redirect(self.get_url(".details_view", id=record_id))
        if self.can_edit:
            return redirect(self.get_url(".edit_view", id=record_id))
        return redirect(self.get_url(".index_view"))

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """Flask-Admin's create view; a form already submitted goes to its record.

        Checked before the form is validated: the record the first submission made
        would otherwise fail the second one's uniqueness checks.
        """
        token = self._posted_token()
        if token is None or not self.can_create:
            return super().create_view()
        earlier = db.session.get(FormSubmission, token)
        if earlier is not None:
            return self._already_created(earlier.record_id)
        try:
            answer = super().create_view()
        except submissions.AlreadySubmitted as repeated:
            return self._already_created(repeated.record_id)
        if isinstance(answer, str):
            # The form came back refused: by a record a concurrent submission of this
            # same form made meanwhile (its uniqueness checks), or for a reason of its own.
            db.session.rollback()
            earlier = db.session.get(FormSubmission, token, populate_existing=True)
            if earlier is not None:
                return self._already_created(earlier.record_id)
        return answer

    def create_model(self, form):
        """Record the form's token with the new record, in the same transaction."""
        return self.create_once(form, super().create_model)

    def create_once(self, form, create: Callable[[Any], Any]):
        """``create(form)`` with the form's token claimed in its transaction.

        For views that create through a service instead of Flask-Admin's
        ``create_model`` (staff accounts, roles): their ``create_model`` passes the
        service call here, so that their forms are one-time forms too.
        """
        token = self._posted_token()
        if token is None:
            return create(form)
        session = db.session()
        claimed = submissions.claim(session, token, self.endpoint)
        created: list[Any] = []

        def collect(session, _context) -> None:
            created.extend(obj for obj in session.new if isinstance(obj, self.model))

        def note_record(session) -> None:
            # Before the commit, so that a repeated submission finds where to land.
            session.flush()
            if created:
                claimed.record_id = self.get_pk_value(created[0])

        event.listen(session, "after_flush", collect)
        event.listen(session, "before_commit", note_record)
        try:
            return create(form)
        finally:
            event.remove(session, "after_flush", collect)
            event.remove(session, "before_commit", note_record)
