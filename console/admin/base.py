"""The secured base views every Flask-Admin view of the console inherits.

Access is decided on the server for every request from the current identity's
permissions (see ``console.permissions``): opening a view needs its ``read_permission``;
each operation flag (create, edit, delete, details, export) is a property asking for the
matching permission, so Flask-Admin's own endpoint checks refuse what the menu hides.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from wtforms.validators import ValidationError

from console.admin.concurrency import OptimisticConcurrencyMixin
from console.admin.export import StreamingExportMixin
from console.admin.history import HistoryLinkMixin
from console.admin.lookups import as_int_id
from console.permissions import EXPORT, can
from console.services.errors import DomainError


class SecuredViewMixin:
    """Open to signed-in staff holding ``read_permission``; login page for anonymous."""

    read_permission: str | None = None
    """Permission needed to open the view at all (``None``: any signed-in person)."""

    def is_accessible(self) -> bool:
        return can(self.read_permission)

    def inaccessible_callback(self, name: str, **kwargs: Any):
        if not current_user.is_authenticated:
            return redirect(url_for("security.login", next=request.full_path))
        abort(403)


class SecuredBaseView(SecuredViewMixin, BaseView):
    """A custom (non-model) page behind ``read_permission``."""


class SecuredIndexView(SecuredViewMixin, AdminIndexView):
    """The admin home page: any signed-in person with a role."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and bool(current_user.roles)


class SecuredModelView(
    SecuredViewMixin,
    OptimisticConcurrencyMixin,
    HistoryLinkMixin,
    StreamingExportMixin,
    ModelView,
):
    """A model view whose every operation asks the current person's permissions.

    Edits are refused when based on a stale version (``OptimisticConcurrencyMixin``);
    audited records link to their history (``HistoryLinkMixin``); CSV exports stream
    with formula cells neutralised (``StreamingExportMixin``).
    """

    write_permission: str | None = None
    """Permission to create and edit records (``None``: nobody)."""

    delete_permission: str | None = None
    """Permission to delete records (``None``: nobody)."""

    export_permission: str | None = EXPORT
    """Permission to download the list as CSV."""

    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)
    export_types = ["csv"]

    def _allows(self, permission: str | None) -> bool:
        """True when the current person may open this view and holds ``permission``.

        ``None`` means the view offers no such operation. Outside a request
        (Flask-Admin building its forms and caches at start-up) this answers whether
        the view offers the operation at all.
        """
        if permission is None:
            return False
        if not has_request_context():
            return True
        return can(self.read_permission) and can(permission)

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self._allows(self.write_permission)

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self._allows(self.write_permission)

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self._allows(self.delete_permission)

    @property
    def can_view_details(self) -> bool:  # type: ignore[override]
        return not has_request_context() or can(self.read_permission)

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self._allows(self.export_permission)

    def related_links(self, model: Any) -> list[tuple[str, str]]:
        """Links from a record's page to the records related to it: ``(label, url)``."""
        return []

    def sibling(self, endpoint: str) -> Any:
        """Another view of the same console, by endpoint (to link to its pages)."""
        return next(view for view in self.admin._views if view.endpoint == endpoint)

    def get_one(self, id: Any) -> Any:
        """The record with primary key ``id``, or None for an id that cannot exist."""
        number = as_int_id(id)
        return None if number is None else super().get_one(str(number))

    def handle_view_exception(self, exc: Exception) -> bool:
        """Turn refusals and database constraint failures into a message on the form."""
        if isinstance(exc, DomainError):
            flash(exc.message, "error")
            return True
        if isinstance(exc, ValidationError):
            flash(str(exc), "error")
            return True
        if isinstance(exc, StaleDataError):
            flash(
                "Someone else changed or deleted this record while you were editing it. "
                "Nothing was saved; reload the record and apply your change again.",
                "error",
            )
            return True
        if isinstance(exc, OperationalError):
            flash(
                "The database is not answering right now; nothing was saved. "
                "Try again in a moment.",
                "error",
            )
            return True
        if isinstance(exc, IntegrityError):
            flash(
                "The database refused the change because it conflicts with an existing "
                "record or breaks a rule (a duplicate value, a negative amount, or a "
                "record still in use). Nothing was saved.",
                "error",
            )
            return True
        if isinstance(exc, StatementError):
            flash("The values given could not be stored. Nothing was saved.", "error")
            return True
        return super().handle_view_exception(exc)
