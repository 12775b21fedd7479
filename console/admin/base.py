"""The secured base views every Flask-Admin view of the console inherits.

Access is decided on the server for every request from the current identity's
permissions (see ``console.permissions``): every endpoint of a view declares the
permissions it needs (``permission_for``), ``is_accessible`` checks them before the
endpoint runs, and each operation flag (create, edit, delete, details, export, list
actions) asks the same declarations, so the menu and buttons show exactly what the
endpoints answer.

Every request to an admin view is screened before its endpoint runs
(``screen_request``): a return URL (``url=``) that is not a path of this site is
dropped, so that Flask-Admin falls back to the view's list page. (NUL characters are
refused for the whole app, before any view: ``console.web.refuse_nul_characters``.)
List actions, look-ups, filters and decimal fields refuse what the database cannot
hold with a 400 or a message on the form, never a 500.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
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
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.model import template as row_action_templates
from flask_admin.model import typefmt
from flask_admin.model.form import converts
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_security.utils import get_request_attr
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from wtforms.validators import ValidationError

from console import localtime
from console.admin.concurrency import OptimisticConcurrencyMixin
from console.admin.drafts import FormDraftMixin
from console.admin.export import ExportMixin
from console.admin.fields import (
    FiniteDecimalField,
    LocalDateTimeField,
    TrimmingModelConverter,
    plain_errors,
)
from console.admin.filters import BoundedFilterConverter
from console.admin.history import HistoryLinkMixin
from console.admin.lookups import MAX_OFFSET, as_int_id
from console.admin.registry import find_view
from console.admin.submissions import OneTimeCreateMixin
from console.permissions import EXPORT, Requirement, UndeclaredPermission, satisfies
from console.services.errors import DomainError

MAX_PAGE = 1_000_000
"""Pages beyond this are past any real data (a million pages of up to 100 rows)."""

RETURN_URL_PARAMETER = "url"
"""Where Flask-Admin's pages carry the address to come back to."""

MAX_RETURN_URL_LENGTH = 2000

_ROW_ID = "rowid0f5e3c"
"""Stands for a record's id in a URL built once for every row (``get_url``)."""

_ROW_ACTIONS_BY_ID = (
    row_action_templates.ViewRowAction,
    row_action_templates.ViewPopupRowAction,
    row_action_templates.EditRowAction,
    row_action_templates.EditPopupRowAction,
    row_action_templates.DeleteRowAction,
)
"""Flask-Admin's row actions whose HTML depends only on the row's id (and the page)."""


class _StandInRow:
    """A row with only a primary key: what Flask-Admin's row action macros read of a row."""

    def __init__(self, key: str, value: str) -> None:
        setattr(self, key, value)


def is_own_path(target: str | None) -> bool:
    """True when ``target`` is a path of this site, such as ``/admin/order/?page=2``.

    Only a relative path starting with a single "/" passes: no scheme (``http:evil``,
    ``javascript:``), no host (``//evil``), no backslash or encoded slash that a
    browser would read as a host (``/\\evil``, ``/%2F%2Fevil``, ``/%5Cevil``), and no
    space or control character (browsers drop tabs and newlines: ``/\t/evil``).

    Flask-Admin's own check (``flask_admin.helpers.is_safe_url``) resolves the target
    against this site's address with ``urljoin``, which reads ``http:evil.example``
    as a path of this site, where a browser goes to the host ``evil.example``.
    """
    if not target or len(target) > MAX_RETURN_URL_LENGTH:
        return False
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    path = target.split("?", 1)[0].split("#", 1)[0]
    for seen in (path, unquote(path), unquote(unquote(path))):
        if not seen.startswith("/") or seen.startswith("//") or "\\" in seen:
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _own_paths_only(values: MultiDict, key: str) -> ImmutableMultiDict:
    """A copy of ``values`` keeping only the own-site values of ``key``."""
    return ImmutableMultiDict(
        [
            (name, value)
            for name, value in values.items(multi=True)
            if name != key or is_own_path(value)
        ]
    )


def screen_request() -> None:
    """Drop off-site return URLs, before any admin endpoint runs.

    Runs before every request of every admin view (see ``create_blueprint``).
    Flask-Admin reads the return URL (``url=``, in the query or in a form) in many
    places through its module-level ``get_redirect_target``, which no view can
    override; dropping an unsafe value here makes every one of them fall back to the
    view's list URL. Werkzeug caches ``args``, ``form`` and ``values`` on the request:
    the cleaned copies replace the cached ones, and ``values`` is recomputed.
    """
    changed = False
    for source in ("args", "form"):
        values = getattr(request, source)
        if not all(map(is_own_path, values.getlist(RETURN_URL_PARAMETER))):
            setattr(request, source, _own_paths_only(values, RETURN_URL_PARAMETER))
            changed = True
    if changed:
        vars(request._get_current_object()).pop("values", None)


def _minutes(view: Any, value: dt.datetime, name: str) -> str:
    return localtime.show(value, zone_name=False)


def _yes_no(view: Any, value: bool, name: str) -> str:
    return "Yes" if value else "No"


def sentence_case(name: str) -> str:
    """A column name as a label: ``decided_by`` -> ``Decided by``, ``customer.email``
    -> ``Customer email`` (Flask-Admin and WTForms would title-case every word)."""
    text = " ".join(name.replace(".", " ").replace("_", " ").split())
    return text[:1].upper() + text[1:]


FIELD_LABELS: dict[str, Any] = {
    "action": lazy_gettext("Action"),
    "active": lazy_gettext("Active"),
    "actor_id": lazy_gettext("Actor id"),
    "attempts": lazy_gettext("Attempts"),
    "body": lazy_gettext("Body"),
    "changes": lazy_gettext("Changes"),
    "code": lazy_gettext("Code"),
    "coupon_code": lazy_gettext("Coupon code"),
    "created_at": lazy_gettext("Created at"),
    "customer": lazy_gettext("Customer"),
    "decided_by": lazy_gettext("Decided by"),
    "description": lazy_gettext("Description"),
    "endpoint": lazy_gettext("Endpoint"),
    "event_id": lazy_gettext("Event id"),
    "events": lazy_gettext("Events"),
    "first_name": lazy_gettext("First name"),
    "kind": lazy_gettext("Kind"),
    "last_error": lazy_gettext("Last error"),
    "last_name": lazy_gettext("Last name"),
    "lines": lazy_gettext("Lines"),
    "minimum_subtotal": lazy_gettext("Minimum subtotal"),
    "name": lazy_gettext("Name"),
    "note": lazy_gettext("Note"),
    "notes": lazy_gettext("Notes"),
    "order": lazy_gettext("Order"),
    "permissions": lazy_gettext("Permissions"),
    "phone": lazy_gettext("Phone"),
    "price": lazy_gettext("Price"),
    "reason": lazy_gettext("Reason"),
    "recipient": lazy_gettext("Recipient"),
    "rejection_reason": lazy_gettext("Rejection reason"),
    "roles": lazy_gettext("Roles"),
    "sender": lazy_gettext("Sender"),
    "state": lazy_gettext("State"),
    "status": lazy_gettext("Status"),
    "subject": lazy_gettext("Subject"),
    "subtotal": lazy_gettext("Subtotal"),
    "template": lazy_gettext("Template"),
    "total": lazy_gettext("Total"),
    "tracking_number": lazy_gettext("Tracking number"),
    "updated_at": lazy_gettext("Updated at"),
    "value": lazy_gettext("Value"),
}
"""Labels of the columns many views share, translated: what ``ColumnLabels`` answers for
an undeclared name before it falls back to the name in sentence case."""


class ColumnLabels(dict):
    """A view's ``column_labels``: the declared ones, else the name in sentence case.

    Flask-Admin asks ``column_labels.get(name)`` for form labels and falls back to
    WTForms' title case when that is None; answering every name keeps lists, details,
    filters and forms in one style.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        declared = super().get(key)
        if declared is not None:
            return declared
        return FIELD_LABELS.get(key) or sentence_case(str(key))


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

    def create_blueprint(self, admin: Any) -> Blueprint:
        """Flask-Admin's blueprint of the view, screening every request first."""
        blueprint = super().create_blueprint(admin)
        blueprint.before_request(screen_request)
        return blueprint

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
    """True when the person signed in (or re-entered the password) within
    ``CONSOLE_STAFF_FRESHNESS``.

    Counted from the moment the password was entered (Flask-Security's "primary
    authenticated at", ``fs_paa``), and nothing else: Flask-Security's
    ``check_and_update_authn_fresh`` also grants a grace period that every fresh call
    renews, so the window would slide along with the person's clicks.
    """
    within = current_app.config["CONSOLE_STAFF_FRESHNESS"].total_seconds()
    entered_at = get_request_attr("fs_paa")
    if not entered_at:
        return False
    age = time.time() - float(entered_at)
    # A little clock drift between hosts may put the sign-in slightly in the future.
    return -within < age < within


class SecuredBaseView(SecuredViewMixin, BaseView):
    """A custom (non-model) page behind ``read_permission`` (which it must declare)."""


class SecuredIndexView(SecuredViewMixin, AdminIndexView):
    """The admin home page: any signed-in person with a role."""

    read_permission = None

    def is_accessible(self) -> bool:
        return super().is_accessible() and bool(current_user.roles)


class FiniteDecimalConverter(TrimmingModelConverter):
    """The console's form converter: text trimmed (``TrimmingModelConverter``), decimal
    columns as ``FiniteDecimalField``, times in the person's zone (``LocalDateTimeField``)."""

    @converts("Numeric")
    def handle_decimal_types(self, column: Any, field_args: dict, **extra: Any):
        # As Flask-Admin's own: the column's scale unless the view gives ``places``.
        field_args.setdefault("places", None)
        return FiniteDecimalField(**field_args)

    @converts("DateTime")
    def handle_datetime(self, field_args: dict, **extra: Any):
        return LocalDateTimeField(**field_args)


def list_load(relation: Any) -> Any:
    """The loader option of a related record a list shows, read with the list's query.

    Flask-Admin joins each one whole (its ``_auto_joins``); a related model that names
    its ``__listed_columns__`` (a person: id and e-mail) gives the join only those.
    """
    load = joinedload(relation)
    related = relation.property.mapper.class_
    shown = getattr(related, "__listed_columns__", None)
    return load.load_only(*(getattr(related, name) for name in shown)) if shown else load


class SecuredModelView(
    FormDraftMixin,
    SecuredViewMixin,
    OneTimeCreateMixin,
    OptimisticConcurrencyMixin,
    HistoryLinkMixin,
    ExportMixin,
    ModelView,
):
    """A model view whose every endpoint and action asks the current person's permissions.

    Like Django's ``has_*_permission``: create/edit need ``write_permission``, delete
    ``delete_permission``, exports ``export_permission``, each on top of
    ``read_permission``; ``None`` means the view offers no such operation. List
    actions declare theirs in ``action_permissions``; an action without one is refused.

    A form posted after the session ended comes back filled in after sign-in
    (``FormDraftMixin``); a create form submitted twice creates one record
    (``OneTimeCreateMixin``); edits
    are refused when based on a stale version (``OptimisticConcurrencyMixin``);
    audited records link to their history (``HistoryLinkMixin``); the lists export as
    CSV, XLSX or JSON Lines, at once or as a background job (``ExportMixin``).
    """

    write_permission: str | None = None
    """Permission to create and edit records (``None``: nobody)."""

    delete_permission: str | None = None
    """Permission to delete records (``None``: nobody)."""

    export_permission: str | None = EXPORT
    """Permission to export the list (CSV, XLSX, JSON Lines)."""

    action_permissions: dict[str, str | None] = {}
    """Permission of each list action beyond ``delete`` (``None``: nobody)."""

    endpoint_permissions: dict[str, str | None] = {}
    """Permission of each extra exposed endpoint a subclass adds (``None``: nobody)."""

    landing_endpoint = "index_view"

    # Times everywhere as "YYYY-MM-DD HH:MM", in the person's time zone (the footer names
    # it); Decimals keep their two places. Exports keep full precision, in UTC.
    column_type_formatters = {**typefmt.BASE_FORMATTERS, dt.datetime: _minutes, bool: _yes_no}
    column_type_formatters_detail = {
        **typefmt.DETAIL_FORMATTERS,
        dt.datetime: _minutes,
        bool: _yes_no,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.column_labels = ColumnLabels(self.column_labels or {})
        super().__init__(*args, **kwargs)
        # The list's joins are made by ``get_list`` (``_list_loads``), not Flask-Admin's.
        self._list_loads = [
            list_load(getattr(self.model, r) if isinstance(r, str) else r) for r in self._auto_joins
        ]
        self._auto_joins = []

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

    # Integer and decimal list filters refuse values past what the columns hold; text form
    # fields are trimmed (a required one must hold more than spaces); decimal form fields
    # refuse NaN and Infinity.
    filter_converter = BoundedFilterConverter()
    model_form_converter = FiniteDecimalConverter

    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)

    def validate_form(self, form):
        """Validate, then write the console's own messages out in the reader's language:
        they are ``lazy_gettext`` strings, and Flask-Admin's form shows only errors that
        are ``str`` (WTForms' own messages come translated through Flask-Admin's
        translations hook)."""
        valid = super().validate_form(form)
        plain_errors(form)
        return valid

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
        if name == "ajax_lookup":
            lookup = self._lookup_permission()
            if lookup is None:
                return None
            needed = (*needed, *lookup)
        return (*read, *needed)

    def _lookup_permission(self) -> tuple[str, ...] | None:
        """What the requested form look-up lists needs besides the form itself.

        A look-up lists other records (every customer's name and e-mail), so it also
        needs the permission to read them: the ``permission`` of its ``RecordLookup``.
        A look-up that declares none is refused. Outside a request, or for a name the
        view does not have (Flask-Admin answers 400), nothing more.
        """
        if not has_request_context():
            return ()
        loader = self._form_ajax_refs.get(request.args.get("name", ""))
        if loader is None:
            return ()
        permission = getattr(loader, "permission", None)
        return (permission,) if permission else None

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
        for row in request.form.getlist("rowid"):
            if as_int_id(row) is None:
                abort(400, f"{row[:40]!r} is not a record of this list; nothing was done.")
        return super().action_view()

    @expose("/ajax/lookup/")
    def ajax_lookup(self):
        """A page of a form's record picker, refusing an offset or size SQL cannot take.

        Flask-Admin hands the request's ``offset`` and ``limit`` to the database as
        given (a negative offset is an SQL error); the pickers only ask from 0 upwards.
        """
        for name, highest in (("offset", MAX_OFFSET), ("limit", 100)):
            raw = request.args.get(name)
            if raw is not None and not (raw.isdigit() and int(raw) <= highest):
                abort(400, f"The look-up {name} must be a whole number from 0 to {highest}.")
        return super().ajax_lookup()

    @action(
        "delete",
        lazy_gettext("Delete"),
        lazy_gettext("Are you sure you want to delete selected records?"),
    )
    def action_delete(self, ids: list[str]) -> None:
        """Flask-Admin's bulk delete, given the selected ids as integers.

        Flask-Admin compares the integer key with the posted strings, which PostgreSQL
        refuses (``integer = character varying``); ids that are no number select nothing.
        """
        numbers = [number for number in map(as_int_id, ids) if number is not None]
        return super().action_delete(numbers)

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
        """Flask-Admin's list query, with the page number kept to what a database can take,
        and the related records the list shows loaded with the same query
        (``_list_loads``).

        A page typed by hand (``?page=99999999999999999999``) would overflow the OFFSET;
        anything past ``MAX_PAGE`` is past every real row, so it shows an empty page.
        """
        if page is not None:
            page = min(max(page, 0), MAX_PAGE)
        count, query = super().get_list(
            page, sort_column, sort_desc, search, filters, False, page_size
        )
        query = query.options(*self._list_loads)
        return count, (query.all() if execute else query)

    def get_url(self, endpoint: str, **kwargs: Any) -> str:
        """Flask-Admin's URL of ``endpoint``; a record's URL (``id``, with or without the
        return ``url``) is built once per request and page, then given each row's id.

        A list asks it two or three times per row (edit, details, delete), and building
        a URL with Werkzeug's routing took about a fifth of a list page's time.
        """
        row_id = kwargs.get("id")
        if (
            not has_request_context()
            or not kwargs.keys() <= {"id", "url"}
            or not isinstance(row_id, int | str)
            or not str(row_id).isdigit()
        ):
            return super().get_url(endpoint, **kwargs)
        built = g.setdefault("console_record_urls", {})
        key = (self.endpoint, endpoint, kwargs.get("url"))
        if key not in built:
            built[key] = super().get_url(endpoint, **{**kwargs, "id": _ROW_ID})
        return built[key].replace(_ROW_ID, str(row_id), 1)

    @pass_context
    def list_rows_html(self, context: Context, rows: Iterable[Any]) -> Markup:
        """A list's rows as Flask-Admin's ``model_list_table`` block writes them: for each
        row a ``<tr>`` with the selection checkbox (when the list has actions), the
        buttons, then a ``<td class="col-NAME">`` for each column shown.

        Written in Python, with what is the same on every row worked out once per page
        (the buttons, the checkbox's title, the cells' classes): Flask-Admin's scoped
        block per row (a copy of the template's context each), a macro per button and a
        template call per cell were about two thirds of a list page's CPU time
        (issue 18).
        """
        checkbox = None
        if context.resolve("actions"):
            title = self._per_page(
                context, "select", lambda: context.resolve("_gettext")("Select record")
            )
            checkbox = (
                '<td><input type="checkbox" name="rowid" class="action-checkbox" value="',
                f'" title="{escape(title)}" /></td>',
            )
        buttons = self.column_display_actions
        formatters = self.column_formatters
        type_formatters = self.column_type_formatters
        columns = [
            (column, f'<td class="col-{escape(column)}">')
            for column, _name in context.resolve("list_columns")
        ]
        written = []
        for row in rows:
            row_id = self.get_pk_value(row)
            cells = ["<tr>"]
            if checkbox is not None:
                cells.append(checkbox[0])
                cells.append(escape(row_id))
                cells.append(checkbox[1])
            if buttons:
                cells.append('<td class="list-buttons-column">')
                cells.append(self._row_buttons(context, row, row_id))
                cells.append("</td>")
            for column, opening in columns:
                value = self._get_list_value(context, row, column, formatters, type_formatters)
                cells.append(opening)
                cells.append(escape(value))
                cells.append("</td>")
            cells.append("</tr>\n")
            written.append("".join(cells))
        return Markup("".join(written))

    def _per_page(self, context: Context, what: str, make: Any) -> Any:
        """``make()``, worked out once per request, list and return URL."""
        kept = g.setdefault("console_row_actions", {})
        key = (self.endpoint, context.resolve("return_url"), what)
        if key not in kept:
            kept[key] = make()
        return kept[key]

    def _row_buttons(self, context: Context, row: Any, row_id: Any) -> Markup:
        """The buttons of a row (details, edit, the delete form) as Flask-Admin's
        ``row_actions`` macros write them, rendered once per page for a stand-in id
        and then given each row's id.

        What they write depends only on the id: the addresses carry the page's return
        URL, and the delete form's CSRF token is the session's, the same on every row
        of the page. Actions of other kinds, or keys that are not plain numbers, are
        rendered per row as Flask-Admin does.
        """
        actions = context.resolve("list_row_actions")
        if (
            not isinstance(self._primary_key, str)
            or not (isinstance(row_id, str) and row_id.isdigit())
            or not all(type(action) in _ROW_ACTIONS_BY_ID for action in actions)
        ):
            return Markup("").join(action.render(context, row_id, row) for action in actions)
        stand_in = _StandInRow(self._primary_key, _ROW_ID)
        buttons = self._per_page(
            context,
            tuple(map(type, actions)),
            lambda: Markup("").join(
                action.render(context, _ROW_ID, stand_in) for action in actions
            ),
        )
        return Markup(buttons.replace(_ROW_ID, row_id))

    def related_links(self, model: Any) -> list[tuple[str, str]]:
        """Links from a record's page to the records related to it: ``(label, url)``."""
        return []

    def filter_url(self, filter_type: type, value: str) -> str:
        """The list filtered by the first filter of ``filter_type`` equal to ``value``."""
        for index, flt in enumerate(self._filters or []):
            if isinstance(flt, filter_type):
                arg = f"flt0_{self.get_filter_arg(index, flt)}"
                return url_for(f"{self.endpoint}.index_view", **{arg: value})
        raise LookupError(f"{type(self).__name__} has no {filter_type.__name__}")

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
                gettext(
                    "Someone else changed or deleted this record while you were editing it. "
                    "Nothing was saved; reload the record and apply your change again."
                ),
                "error",
            )
            return True
        if isinstance(exc, OperationalError):
            flash(
                gettext(
                    "The database is not answering right now; nothing was saved. "
                    "Try again in a moment."
                ),
                "error",
            )
            return True
        if isinstance(exc, IntegrityError):
            flash(
                gettext(
                    "The database refused the change because it conflicts with an existing "
                    "record or breaks a rule (a duplicate value, a negative amount, or a "
                    "record still in use). Nothing was saved."
                ),
                "error",
            )
            return True
        if isinstance(exc, StatementError):
            flash(gettext("The values given could not be stored. Nothing was saved."), "error")
            return True
        return super().handle_view_exception(exc)
