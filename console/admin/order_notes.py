"""Internal notes from the order's page: a small form under the timeline.

The endpoint asks ``orders.write`` (declared in ``OrderAdmin.endpoint_permissions``
and checked by ``is_accessible`` before it runs); the service checks it again. A
blank or too long note comes back on the page with the message on the field and the
text as typed, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from wtforms import Form, TextAreaField
from wtforms.validators import ValidationError

from console.database import db
from console.services import order_notes
from console.services.errors import DomainError

FAILED_FORM = "console_order_note_form"
"""``g`` key of a note form that failed validation, shown again with its message."""


def _storable(form: Form, field: Any) -> None:
    problem = order_notes.body_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class OrderNoteForm(Form):
    """One internal note (the page carries the CSRF token, checked app-wide)."""

    body = TextAreaField(
        lazy_gettext("Internal note"),
        filters=[order_notes.clean_body],
        validators=[_storable],
    )


class OrderNotesMixin:
    """Adds ``note_view`` (POST) and what the order's templates ask about notes."""

    max_note_length = order_notes.MAX_NOTE_LENGTH

    def note_form(self) -> OrderNoteForm:
        """The form to show: the one just refused (with its message), or an empty one."""
        return g.get(FAILED_FORM) or OrderNoteForm()

    @property
    def can_add_notes(self) -> bool:
        return self._allows("note_view")  # type: ignore[attr-defined]

    @expose("/<int:order_id>/note/", methods=("POST",))
    def note_view(self, order_id: int):
        """Add an internal note to order ``order_id``, then show its page again.

        The form's address repeats the id as ``?id=``, as the details page has it, so
        that a refused note is shown on a page whose links (Edit, History) still work.
        """
        view: Any = self
        return_url = get_redirect_target() or view.get_url(".index_view")
        order = view.get_one(order_id)
        if order is None:
            abort(404)
        form = OrderNoteForm(request.form)
        if not form.validate():
            setattr(g, FAILED_FORM, form)
            return view.render(
                view.details_template,
                model=order,
                details_columns=view._details_columns,
                get_value=view.get_detail_value,
                return_url=return_url,
            )
        try:
            order_notes.add_note(
                db.session, order, current_user._get_current_object(), form.body.data
            )
        except DomainError as refused:
            flash(refused.message, "error")
        else:
            flash(gettext("Note added to order %(number)s.", number=order.number), "success")
        details = view.get_url(".details_view", id=order.id, url=return_url)
        return redirect(f"{details}#order-timeline")
