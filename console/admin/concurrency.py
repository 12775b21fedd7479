"""Safe concurrent editing for every model view (mixed into ``SecuredModelView``).

The edit form carries, in a hidden ``version`` field, the version of the record it was
opened on. SQLAlchemy's ``version_id_col`` alone cannot catch a stale form, because the
edit view reloads the row on POST and so always holds the newest version; the saved
form is therefore compared with the row before anything is written
(``console.services.concurrency.ensure_current``), and a stale or replayed form is
refused with the other person's change spelled out. A save racing another commit
between that check and the UPDATE is still caught by ``version_id_col``.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_admin.model.helpers import get_mdict_item_or_list
from sqlalchemy import inspect
from wtforms.fields import HiddenField

from console import audit
from console.admin.lookups import as_int_id
from console.database import db
from console.services import concurrency


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
        field = getattr(form, "version", None)
        if isinstance(field, VersionField):
            # raw_data, not data: a form without the field must not fall back to the
            # record's current version (which WTForms would take from the object).
            loaded = field.raw_data[0] if field.raw_data else None
            try:
                concurrency.ensure_current(db.session, model, loaded)
            except concurrency.StaleRecordError as exc:
                flash(exc.message, "error")
                return False
        return super().update_model(form, model)

    def missing_record_message(self, record_id: Any) -> str:
        """Why a record cannot be edited: it is gone (and who deleted it, when known)."""
        record_type = audit.SPECS[self.model].record_type if self.model in audit.SPECS else None
        kind = (record_type or self.name or "record").replace("_", " ")
        message = f"This {kind} no longer exists, so there is nothing to save; nothing was changed."
        if record_type is not None:
            deleted = audit.deletion_of(db.session, record_type, record_id)
            if deleted is not None:
                when = deleted.at.strftime("%Y-%m-%d %H:%M UTC")
                message = (
                    f"This {kind} ({deleted.record_label}) was deleted by {deleted.actor_email} "
                    f"at {when}; nothing was changed."
                )
        return message

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        """Flask-Admin's edit view, with a clear message for a record deleted meanwhile."""
        if self.can_edit:
            record_id = get_mdict_item_or_list(request.args, "id")
            if record_id is not None and as_int_id(record_id) is None:
                shown = str(record_id)[:40]
                flash(f"There is no record with id {shown!r}; nothing was changed.", "error")
                return redirect(get_redirect_target() or self.get_url(".index_view"))
            if record_id is not None and self.get_one(record_id) is None:
                flash(self.missing_record_message(record_id), "error")
                return redirect(get_redirect_target() or self.get_url(".index_view"))
        return super().edit_view()
