"""Safe concurrent editing for every model view (mixed into ``SecuredModelView``).

The edit form carries, in a hidden ``version`` field, the version of the record it was
opened on. SQLAlchemy's ``version_id_col`` alone cannot catch a stale form, because the
edit view reloads the row on POST and so always holds the newest version; the saved
form is therefore compared with the row before anything is written
(``console.services.concurrency.ensure_current``), and a stale or replayed form is
refused with the other person's change spelled out. A save racing another commit
between that check and the UPDATE is still caught by ``version_id_col``.

A refused save re-renders the edit page rather than losing the person's work: the form
shows the record's current values and carries the current version (so the next Save
is checked against what the person now sees), and a table sets the person's entries
beside the current values (``console.admin.conflicts``). "Use my entries" posts the
entries back with the fields the person picked; the page comes back with those put
into the form on top of the current version, and nothing is written until the person
presses Save, which is checked like any other save.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request
from flask_admin import expose
from flask_admin.form import FormOpts
from flask_admin.helpers import get_redirect_target
from flask_admin.model.helpers import get_mdict_item_or_list
from flask_babel import gettext
from sqlalchemy import inspect
from wtforms.fields import HiddenField
from wtforms.utils import unset_value

from console import audit, localtime
from console.admin import conflicts
from console.admin.lookups import as_int_id
from console.database import db
from console.services import concurrency

REAPPLY = "_use_my_entries"
"""Posted by the "Use my entries" button: fill the form, save nothing."""

TAKE = "_take_mine"
"""The "use mine" boxes of the comparison, one per field (the value: the field's name)."""

OPENED = "_opened_version"
"""The version the carried entries were typed on."""

EDIT_ADVICE = (
    "The form below shows the current values, with your entries beside them: press "
    "“Use my entries” to put yours back into the form, check it, then save."
)

_CONFLICT = "console_edit_conflict"
_CONFLICT_FORM = "console_edit_conflict_form"


class VersionField(HiddenField):
    """The version the form was opened on; never copied onto the record."""

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


class OptimisticConcurrencyMixin:
    """Refuse an edit based on a stale version; say clearly when the record is gone."""

    def _versioned(self) -> bool:
        mapper = inspect(self.model)
        return "version" in mapper.columns

    def get_edit_form(self):
        form_class = super().get_edit_form()
        if not self._versioned():
            return form_class
        return type(form_class.__name__, (form_class,), {"version": VersionField()})

    def update_model(self, form, model) -> bool:
        if not self.accept_version(form, model):
            return False
        return super().update_model(form, model)

    def accept_version(self, form, model) -> bool:
        """True when ``form`` was opened on ``model``'s current version.

        Otherwise nothing is written: the refusal is flashed and the page is prepared
        to show the conflict (``edit_conflict``). A view that replaces ``update_model``
        calls this first.
        """
        field = getattr(form, "version", None)
        if not isinstance(field, VersionField):
            return True
        # raw_data, not data: a form without the field must not fall back to the
        # record's current version (which WTForms would take from the object).
        loaded = field.raw_data[0] if field.raw_data else None
        try:
            concurrency.ensure_current(db.session, model, loaded, advice=EDIT_ADVICE)
        except concurrency.StaleRecordError as exc:
            flash(exc.message, "error")
            current = self._current_form(model)
            changed = concurrency.fields_changed_by(model, exc.events)
            rows = conflicts.compare(form, current, changed, self.get_column_name)
            self._keep_conflict(
                current,
                conflicts.EditConflict(
                    version=model.version,
                    opened_version=concurrency.parse_version(loaded),
                    rows=rows,
                    entries=conflicts.carried_entries(request.form, form),
                    chosen=conflicts.default_choice(rows),
                    left_out=conflicts.left_out_fields(form),
                ),
            )
            return False
        return True

    def edit_conflict(self) -> conflicts.EditConflict | None:
        """The conflict this request's edit page shows, if any (read by the template)."""
        return g.get(_CONFLICT)

    def _keep_conflict(self, form, conflict: conflicts.EditConflict) -> None:
        g.setdefault(_CONFLICT, conflict)
        g.setdefault(_CONFLICT_FORM, form)

    def _current_form(self, model):
        """The edit form as a GET shows it: the record's current values and version."""
        form = self._edit_form_class(None, obj=model)
        self.on_form_prefill(form, self.get_pk_value(model))
        return form

    def render(self, template, **kwargs):
        """After a refused save, the edit page shows the form with the current values."""
        form = g.get(_CONFLICT_FORM)
        if form is not None and template == self.edit_template and "form" in kwargs:
            kwargs["form"] = form
        return super().render(template, **kwargs)

    def reapply_view(self, model):
        """Put the person's chosen entries into the form, on top of the current values.

        Answers the "Use my entries" button: the carried entries come back with the boxes
        the person left ticked, and the version the comparison was based on. Nothing is
        written; the form then carries that version, so a change made meanwhile by
        someone else is caught again when the person saves.
        """
        formdata = request.form
        mine = self._edit_form_class(formdata, obj=model)
        current = self._current_form(model)
        names = {f.name for f in conflicts.comparable_fields(current)}
        chosen = frozenset(name for name in formdata.getlist(TAKE) if name in names)
        opened = concurrency.parse_version(formdata.get(OPENED))
        version = concurrency.parse_version(formdata.get("version"))
        events = []
        if opened is not None and opened < model.version:
            events = concurrency.events_since(db.session, model, opened)
        changed = concurrency.fields_changed_by(model, events)
        rows = conflicts.compare(mine, current, changed, self.get_column_name)

        form = self._current_form(model)
        for name in sorted(chosen):
            form[name].process(formdata, getattr(model, name, unset_value))
        form.version.process(None, version)
        self._keep_conflict(
            form,
            conflicts.EditConflict(
                version=version,
                opened_version=opened,
                rows=rows,
                entries=conflicts.carried_entries(formdata, mine),
                chosen=chosen,
                reapplied=True,
                left_out=conflicts.left_out_fields(mine),
            ),
        )
        if chosen:
            flash(
                gettext("Your entries are in the form; nothing is saved until you press Save."),
                "info",
            )
        else:
            flash(gettext("No field was ticked: the form keeps the current values."), "info")
        return_url = get_redirect_target() or self.get_url(".index_view")
        form_opts = FormOpts(widget_args=self.form_widget_args, form_rules=self._form_edit_rules)
        return self.render(
            self.edit_template, model=model, form=form, form_opts=form_opts, return_url=return_url
        )

    def missing_record_message(self, record_id: Any) -> str:
        """Why a record cannot be edited: it is gone (and who deleted it, when known)."""
        record_type = audit.SPECS[self.model].record_type if self.model in audit.SPECS else None
        kind = (record_type or self.name or "record").replace("_", " ")
        message = f"This {kind} no longer exists, so there is nothing to save; nothing was changed."
        if record_type is not None:
            deleted = audit.deletion_of(db.session, record_type, record_id)
            if deleted is not None:
                when = localtime.show(deleted.at)
                message = (
                    f"This {kind} ({deleted.record_label}) was deleted by {deleted.actor_email} "
                    f"at {when}; nothing was changed."
                )
        return message

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        """Flask-Admin's edit view, with a clear message for a record deleted meanwhile,
        and the "Use my entries" answer of a conflict page (``reapply_view``)."""
        if self.can_edit:
            record_id = get_mdict_item_or_list(request.args, "id")
            if record_id is not None and as_int_id(record_id) is None:
                shown = str(record_id)[:40]
                flash(
                    gettext(
                        "There is no record with id %(id)s; nothing was changed.", id=repr(shown)
                    ),
                    "error",
                )
                return redirect(get_redirect_target() or self.get_url(".index_view"))
            model = None if record_id is None else self.get_one(record_id)
            if record_id is not None and model is None:
                flash(self.missing_record_message(record_id), "error")
                return redirect(get_redirect_target() or self.get_url(".index_view"))
            reapply = request.method == "POST" and REAPPLY in request.form
            if model is not None and reapply and self._versioned():
                return self.reapply_view(model)
        return super().edit_view()
