"""The "History" link on a record's details and edit pages (mixed into ``SecuredModelView``)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from console import audit
from console.permissions import AUDIT_READ, can

RECORD_FILTER_ARG = "flt0_record_is"
"""URL argument of the audit view's "Record is" filter (``named_filter_urls``)."""


def history_url(record_type: str, record_id: Any) -> str:
    """The audit list showing one record's events (and its parts'), newest first."""
    return url_for("audit.index_view", **{RECORD_FILTER_ARG: f"{record_type}:{record_id}"})


class HistoryLinkMixin:
    """Adds a History link for audited models, shown to people who may read the trail."""

    details_template = "admin/model/details_with_history.html"
    edit_template = "admin/model/edit_with_history.html"

    def history_url(self, record_id: Any) -> str | None:
        spec = audit.SPECS.get(self.model)
        if spec is None or record_id in (None, "") or not can(AUDIT_READ):
            return None
        return history_url(spec.record_type, record_id)
