"""The secured base views every Flask-Admin view of the console inherits.

Access is decided on the server for every request from the current identity's
permissions (see ``console.permissions``): every endpoint of a view declares the
permissions it needs (``permission_for``), ``is_accessible`` checks them before the
endpoint runs, and each operation flag (create, edit, delete, details, export, list
actions) asks the same declarations, so the menu and buttons show exactly what the
endpoints answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import typefmt
from flask_login import current_user
from flask_security import check_and_update_authn_fresh
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from wtforms.validators import ValidationError

from console.admin.concurrency import OptimisticConcurrencyMixin
from console.admin.export import StreamingExportMixin
from console.admin.history import HistoryLinkMixin
from console.admin.lookups import as_int_id
from console.admin.registry import find_view
from console.permissions import EXPORT, Requirement, UndeclaredPermission, satisfies
from console.services.errors import DomainError

MAX_PAGE = 1_000_000
"""Pages beyond this are past any real data (a million pages of up to 100 rows)."""


def _minutes(view: Any, value: dt.datetime, name: str) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _yes_no(view: Any, value: bool, name: str) -> str:
    return "Yes" if value else "No"


def sentence_case(name: str) -> str:
    """A column name as a label: ``decided_by`` -> ``Decided by``, ``customer.email``
    -> ``Customer email`` (Flask-Admin and WTForms would title-case every word)."""
    text = " ".join(name.replace(".", " ").replace("_", " ").split())
    return text[:1].upper() + text[1:]


class ColumnLabels(dict):
    """A view's ``column_labels``: the declared ones, else the name in sentence case.

    Flask-Admin asks ``column_labels.get(name)`` for form labels and falls back to
    WTForms' title case when that is None; answering every name keeps lists, details,
    filters and forms in one style.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        declared = super().get(key)
        return declared if declared is not None else sentence_case(str(key))


class _Undeclared:
    """Marker for a permission a view forgot to declare."""

    def __repr__(self) -> str:
        return "UNDECLARED"


UNDECLARED: Any = _Undeclared()


class SecuredViewMixin:
    """Every endpoint of the view declares what it asks for; the server checks it.

    ``is_accessible`` is asked by Flask-Admin before every exposed method runs, and
    for the menu. For a request to one of this view's own endpoints it checks that
    endpoint's declared requirement (``permission_for``); for the menu, the
    requirement of the view's landing page. Anonymous visitors go to the login page
    (and come back afterwards), signed-in people lacking the permission get 403, and
    endpoints listed in ``fresh_endpoints`` first ask for the password again when the
    last sign-in is older than ``CONSOLE_STAFF_FRESHNESS``.
    """

    read_permission: str | None = UNDECLARED
    """Permission needed to open the view at all (``None``: any signed-in person)."""

    fresh_endpoints: frozenset[str] = frozenset()
    """Endpoints (method names) that need a recent sign-in, such as staff changes."""

    def permission_for(self, name: str) -> Requirement:
        """The permissions endpoint ``name`` (a method name) asks for.

        Raises ``UndeclaredPermission`` when the view has not declared them, so the
        view is closed and the access tests fail until it does.
        """
        if self.read_permission is UNDECLARED:
            raise UndeclaredPermission(f"{type(self).__name__} declares no read_permission")
        return () if self.read_permission is None else (self.read_permission,)

    def _own_endpoint(self) -> str | None:
        """The method name this request is for, when it is one of this view's endpoints."""
        if not has_request_context() or request.endpoint is None:
            return None
        blueprint, _, method = request.endpoint.rpartition(".")
        return method if blueprint == self.endpoint else None

    def _requirement(self, name: str) -> Requirement:
        try:
            return self.permission_for(name)
        except UndeclaredPermission:
            current_app.logger.error("Refused %s.%s: no permission declared", self.endpoint, name)
            return None

    def is_accessible(self) -> bool:
        name = self._own_endpoint() or self.landing_endpoint
        if not satisfies(self._requirement(name)):
            return False
        if self._own_endpoint() in self.fresh_endpoints and not _recently_signed_in():
            g.console_needs_fresh_sign_in = True
            return False
        return True

    landing_endpoint = "index"
    """The endpoint the menu entry opens (its requirement decides the menu)."""

    def inaccessible_callback(self, name: str, **kwargs: Any):
        if not current_user.is_authenticated:
            return redirect(url_for("security.login", next=_here()))
        if g.get("console_needs_fresh_sign_in"):
            # A POST cannot be replayed after the password prompt: come back to the list.
            back = _here() if request.method == "GET" else self.get_url(f".{self.landing_endpoint}")
            return redirect(url_for("security.verify", next=back))
        abort(403)


def _here() -> str:
    """This request's path and query, for coming back after signing in."""
    return request.full_path.rstrip("?")


def _recently_signed_in() -> bool:
    """True when the person signed in (or re-entered the password) recently enough."""
    within = current_app.config["CONSOLE_STAFF_FRESHNESS"]
    grace = current_app.config["SECURITY_FRESHNESS_GRACE_PERIOD"]
    return check_and_update_authn_fresh(within, grace)


class SecuredBaseView(SecuredViewMixin, BaseView):
    """A custom (non-model) page behind ``read_permission`` (which it must declare)."""


class SecuredIndexView(SecuredViewMixin, AdminIndexView):
    """The admin home page: any signed-in person with a role."""

    read_permission = None

    def is_accessible(self) -> bool:
        return super().is_accessible() and bool(current_user.roles)


class SecuredModelView(
    SecuredViewMixin,
    OptimisticConcurrencyMixin,
    HistoryLinkMixin,
    StreamingExportMixin,
    ModelView,
):
    """A model view whose every endpoint and action asks the current person's permissions.

    Like Django's ``has_*_permission``: create/edit need ``write_permission``, delete
    ``delete_permission``, CSV ``export_permission``, each on top of
    ``read_permission``; ``None`` means the view offers no such operation. List
    actions declare theirs in ``action_permissions``; an action without one is refused.

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

    action_permissions: dict[str, str | None] = {}
    """Permission of each list action beyond ``delete`` (``None``: nobody)."""

    endpoint_permissions: dict[str, str | None] = {}
    """Permission of each extra exposed endpoint a subclass adds (``None``: nobody)."""

    landing_endpoint = "index_view"

    # Times everywhere as "YYYY-MM-DD HH:MM", in UTC like every stored time; Decimals keep
    # their two places. Exports keep full precision.
    column_type_formatters = {**typefmt.BASE_FORMATTERS, dt.datetime: _minutes, bool: _yes_no}
    column_type_formatters_detail = {
        **typefmt.DETAIL_FORMATTERS,
        dt.datetime: _minutes,
        bool: _yes_no,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.column_labels = ColumnLabels(self.column_labels or {})
        super().__init__(*args, **kwargs)

    search_hint: str | None = None
    """The search box's placeholder, in words ("Search by name, e-mail or phone")."""

    def search_placeholder(self) -> str | None:
        """The declared ``search_hint``, never the raw column names Flask-Admin lists."""
        if not self.column_searchable_list:
            return None
        if self.search_hint:
            return self.search_hint
        names = [self.get_column_name(str(c)).lower() for c in self.column_searchable_list]
        return "Search by " + (
            ", ".join(names[:-1]) + " or " + names[-1] if names[1:] else names[0]
        )

    def get_column_name(self, field: str) -> str:
        """Every label in sentence case unless declared (``ColumnLabels``)."""
        return self.column_labels.get(field)

    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)
    export_types = ["csv"]

    def permission_for(self, name: str) -> Requirement:
        read = super().permission_for(name)
        operation = {
            "index_view": (),
            "details_view": (),
            # Actions carry their own permissions (``action_permission``); posting one
            # needs at least the list.
            "action_view": (),
            "create_view": self.write_permission,
            "edit_view": self.write_permission,
            # Inline list editing and the form's ajax look-ups serve create and edit.
            "ajax_update": self.write_permission,
            "ajax_lookup": self.write_permission,
            "delete_view": self.delete_permission,
            "export": self.export_permission,
        }
        if name not in operation:
            extra = self.endpoint_permissions
            if name not in extra:
                raise UndeclaredPermission(
                    f"{type(self).__name__}.{name} declares no permission "
                    "(add it to endpoint_permissions)"
                )
            operation[name] = extra[name]
        needed = operation[name]
        if needed is None:
            return None
        if isinstance(needed, str):
            needed = (needed,)
        return (*read, *needed)

    def action_permission(self, name: str) -> Requirement:
        """The permissions list action ``name`` asks for (``None`` when the view bars it)."""
        if name in self.action_disallowed_list:
            return None
        if name == "delete":
            return self.permission_for("delete_view")
        if name not in self.action_permissions:
            raise UndeclaredPermission(
                f"{type(self).__name__}: action {name!r} declares no permission "
                "(add it to action_permissions)"
            )
        permission = self.action_permissions[name]
        if permission is None:
            return None
        return (*self.permission_for("index_view"), permission)

    def is_action_allowed(self, name: str) -> bool:
        """Offer and run only the actions the current person's permissions allow."""
        if name in self.action_disallowed_list:
            return False
        if not has_request_context():
            return True
        try:
            return satisfies(self.action_permission(name))
        except UndeclaredPermission:
            current_app.logger.error("Refused action %r of %s: no permission", name, self.endpoint)
            return False

    @expose("/action/", methods=("POST",))
    def action_view(self):
        """Run a list action, refusing (403) one the person may not run.

        Flask-Admin's own handler silently redirects on a refused action; a forged
        request deserves the same answer as any other forbidden endpoint.
        """
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            abort(403)
        return super().action_view()

    def _allows(self, name: str) -> bool:
        """True when the current person may use endpoint ``name``.

        Outside a request (Flask-Admin building its forms and caches at start-up)
        this answers whether the view offers the operation at all.
        """
        requirement = self._requirement(name)
        if not has_request_context():
            return requirement is not None
        return satisfies(requirement)

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self._allows("create_view")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self._allows("edit_view")

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self._allows("delete_view")

    @property
    def can_view_details(self) -> bool:  # type: ignore[override]
        return self._allows("details_view")

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self._allows("export")

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Flask-Admin's list query, with the page number kept to what a database can take.

        A page typed by hand (``?page=99999999999999999999``) would overflow the OFFSET;
        anything past ``MAX_PAGE`` is past every real row, so it shows an empty page.
        """
        if page is not None:
            page = min(max(page, 0), MAX_PAGE)
        return super().get_list(page, sort_column, sort_desc, search, filters, execute, page_size)

    def related_links(self, model: Any) -> list[tuple[str, str]]:
        """Links from a record's page to the records related to it: ``(label, url)``."""
        return []

    def sibling(self, endpoint: str) -> Any:
        """Another view of the same console, by endpoint (to link to its pages)."""
        view = find_view(current_app, endpoint)
        if view is None:
            raise LookupError(f"no admin view serves the endpoint {endpoint!r}")
        return view

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
