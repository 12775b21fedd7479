"""The audit trail, read-only for everyone (admins included).

Flask-Admin mounts no create, edit, delete or inline-update endpoint for it, and its
list-actions URL (which the list template always links) answers 404. The trail is
written only by ``console.audit``, in the transaction of the change it
describes.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_admin import expose
from flask_admin.contrib.sqla.filters import (
    BaseSQLAFilter,
    DateTimeBetweenFilter,
    DateTimeGreaterFilter,
    DateTimeSmallerFilter,
    FilterEqual,
    FilterLike,
    IntEqualFilter,
)
from flask_babel import lazy_gettext
from markupsafe import Markup
from sqlalchemy import and_, or_

from console import audit, localtime
from console.admin.base import SecuredModelView
from console.admin.filters import local_time
from console.admin.lookups import as_int_id
from console.audit import display
from console.models import AuditEvent
from console.permissions import AUDIT_READ


class RecordIdFilter(IntEqualFilter):
    """Record id equals; a value that cannot be an id is ignored, not sent to the database."""

    def validate(self, value: str) -> bool:
        return as_int_id(value) is not None


class RecordFilter(BaseSQLAFilter):
    """Events of one record and of its parts; the value is ``type:id`` (``order:12``)."""

    def _parse(self, value: str) -> tuple[str, int] | None:
        record_type, _, record_id = (value or "").partition(":")
        number = as_int_id(record_id)
        return (record_type.strip(), number) if number is not None else None

    def validate(self, value: str) -> bool:
        return self._parse(value) is not None

    def apply(self, query, value, alias=None):
        record_type, record_id = self._parse(value)
        return query.filter(
            or_(
                and_(AuditEvent.record_type == record_type, AuditEvent.record_id == record_id),
                and_(AuditEvent.parent_type == record_type, AuditEvent.parent_id == record_id),
            )
        )

    def operation(self) -> str:
        return "is"


def _shown(value: Any) -> str:
    """A stored value as the CSV export keeps it (exact, ids and full times included)."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def changes_text(changes: dict | None) -> str:
    """``field: before → after; ...`` for the CSV export."""
    return "; ".join(
        f"{name}: {_shown(before)} → {_shown(after)}"
        for name, (before, after) in (changes or {}).items()
    )


def changes_formatter(view: Any, context: Any, model: AuditEvent, name: str) -> Markup:
    """The diff as a small table: field, before, after."""
    changes = model.changes or {}
    if not changes:
        return Markup("")
    rows = Markup("").join(
        Markup(
            "<tr><th class='font-weight-normal text-muted pr-2'>{}</th>"
            "<td><del class='text-danger'>{}</del></td><td>→</td>"
            "<td><ins class='text-success'>{}</ins></td></tr>"
        ).format(display.field_name(field), display.shown(before), display.shown(after))
        for field, (before, after) in changes.items()
    )
    return Markup(
        "<table class='table table-sm table-borderless mb-0 audit-diff'>{}</table>"
    ).format(rows)


def action_formatter(view: Any, context: Any, model: AuditEvent, name: str) -> str:
    """The action in the reader's language; searches, filters and exports use the
    stored word."""
    return audit.action_label(model.action)


def when_formatter(view: Any, context: Any, model: AuditEvent, name: str) -> str:
    return localtime.show(model.at, seconds=True, zone_name=False)


class AuditEventAdmin(SecuredModelView):
    read_permission = AUDIT_READ
    write_permission = None
    delete_permission = None

    can_view_details_modal = False
    simple_list_pager = True
    """The trail only grows: a page must not count every row of it."""
    named_filter_urls = True
    """Stable filter URLs: the History links point at ``flt0_record_is``."""

    action_disallowed_list = ["delete"]
    column_list = [
        "at",
        "actor_email",
        "action",
        "record_type",
        "record_id",
        "record_label",
        "changes",
        "client_addr",
    ]
    column_labels = {
        "at": lazy_gettext("When"),
        "actor_email": lazy_gettext("Who"),
        "record_type": lazy_gettext("Record type"),
        "record_id": lazy_gettext("Record id"),
        "record_label": lazy_gettext("Record"),
        "client_addr": lazy_gettext("Client address"),
        "request_id": lazy_gettext("Request id"),
        "record_version": lazy_gettext("Version after"),
        "parent_type": lazy_gettext("Part of (type)"),
        "parent_id": lazy_gettext("Part of (id)"),
    }
    column_details_list = [
        "at",
        "actor_email",
        "actor_id",
        "client_addr",
        "request_id",
        "action",
        "record_type",
        "record_id",
        "record_label",
        "record_version",
        "parent_type",
        "parent_id",
        "changes",
        "note",
    ]
    column_default_sort = [("at", True), ("id", True)]
    column_sortable_list = ["at", "actor_email", "action", "record_type", "record_id"]
    column_searchable_list = ["actor_email", "record_label", "action", "note", "client_addr"]
    search_hint = lazy_gettext("Search by person, record, action, note or address")
    column_filters = [
        RecordFilter(AuditEvent.record_type, "Record"),
        FilterEqual(AuditEvent.actor_email, "Person"),
        FilterLike(AuditEvent.actor_email, "Person"),
        FilterEqual(
            AuditEvent.record_type, "Record type", options=[(t, t) for t in audit.RECORD_TYPES]
        ),
        RecordIdFilter(AuditEvent.record_id, "Record id"),
        FilterEqual(
            AuditEvent.action,
            "Action",
            options=[(a, audit.ACTION_LABELS[a]) for a in audit.KNOWN_ACTIONS],
        ),
        FilterLike(AuditEvent.action, "Action"),
        local_time(DateTimeBetweenFilter)(AuditEvent.at, "When"),
        local_time(DateTimeGreaterFilter)(AuditEvent.at, "When"),
        local_time(DateTimeSmallerFilter)(AuditEvent.at, "When"),
    ]
    column_formatters = {
        "changes": changes_formatter,
        "at": when_formatter,
        "action": action_formatter,
    }
    column_formatters_detail = column_formatters
    export_specs = ("audit",)
    # Forms are never shown; a plain column keeps Flask-Admin from scaffolding the JSON.
    form_columns = ["note"]

    # The trail is append-only. Redefined without ``@expose``, these views get no URL
    # at all (Flask-Admin mounts only exposed methods), so no write endpoint exists.
    def create_view(self):
        abort(404)

    def edit_view(self):
        abort(404)

    def delete_view(self):
        abort(404)

    @expose("/action/", methods=("POST",))
    def action_view(self):
        """Kept as a URL only because the list template always builds it; refuses all.

        403 like any other forbidden write: nobody, admins included, may change the trail.
        """
        abort(403)

    def ajax_update(self):
        abort(404)
