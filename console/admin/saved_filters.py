"""``/admin/saved-filters/``: save a list's filters under a name, reopen them, delete them.

``/admin/saved-filters/`` lists the person's saved filters of every list they may read.

Every list page offers the person's saved filters of that list in a "Saved filters"
menu (``templates/admin/model/console_list.html``) with a small form that saves what the
list shows now. Each endpoint is open to anyone signed in, for their own saved filters
only (another person's answers 404), and asks again for the list's own read permission:
a saved filter never opens a list its owner may no longer see.

A saved query is checked against the list each time it is opened, parameter by
parameter, as Flask-Admin reads them (``flt<pos>_<filter>``, ``search``, ``sort``,
``desc``, ``page_size``): a list whose filters or columns have changed since opens
unfiltered with a message, rather than with some of the filters silently dropped.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_admin.model import BaseModelView
from flask_babel import gettext
from flask_login import current_user

from console.admin.base import SecuredBaseView
from console.admin.registry import endpoint_requirement, find_view
from console.database import db
from console.models import SavedFilter
from console.permissions import satisfies
from console.services import saved_filters
from console.services.errors import DomainError

KEPT_PARAMETERS = ("search", "sort", "desc", "page_size")
"""Besides the filters (``flt...``), what a saved filter keeps of a list's address."""


def readable_list(endpoint: str) -> BaseModelView:
    """The list view ``endpoint`` if the current person may read it: 404 for no such
    list, 403 without its read permission."""
    view = find_view(current_app, endpoint)
    if not isinstance(view, BaseModelView):
        abort(404)
    if not satisfies(endpoint_requirement(current_app, f"{endpoint}.index_view")):
        abort(403)
    return view


def kept_query(query: str) -> str:
    """The part of a list's query string a saved filter keeps (no page number)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k.startswith("flt") or k in KEPT_PARAMETERS])


def query_problem(view: BaseModelView, query: str) -> str | None:
    """Why ``query`` no longer fits the list ``view``, or None when every part does."""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.startswith("flt"):
            position, _, filter_key = key[3:].partition("_")
            known = (view._filter_args or {}).get(filter_key)
            if not position.isdigit() or known is None:
                return "one of its filters no longer exists"
            if not known[1].validate(value):
                return f'the value "{value}" no longer suits its filter'
        elif key == "sort":
            column = view._get_column_by_idx(int(value)) if value.isdigit() else None
            if column is None or column[0] not in view._sortable_columns:
                return "the column it was sorted by is no longer sortable"
        elif key == "desc":
            if value not in ("0", "1"):
                return "its sort direction is not understood"
        elif key == "search":
            if not view._search_supported:
                return "the list can no longer be searched"
        elif key == "page_size":
            if not (value.isdigit() and int(value) in view.page_size_options):
                return "its page size is no longer offered"
        else:
            return f'"{key}" is not a setting of this list'
    return None


def saved_filters_of(view: BaseModelView) -> list[SavedFilter]:
    """The current person's saved filters of the list ``view`` (for its menu)."""
    if not current_user.is_authenticated:
        return []
    return saved_filters.of_list(db.session, current_user, view.endpoint)


class SavedFiltersView(SecuredBaseView):
    """Save (POST), open (GET) and delete (POST) one's own saved filters."""

    read_permission = None  # every signed-in person, for their own saved filters

    def is_visible(self) -> bool:
        """Reached from each list's "Saved filters" menu, not from the main menu."""
        return False

    def _list_url(self, view: BaseModelView, query: str = "") -> str:
        address = url_for(f"{view.endpoint}.index_view")
        return f"{address}?{query}" if query else address

    @expose("/")
    def index(self):
        """The person's saved filters of every list they may read, to open or delete."""
        rows = []
        for saved in saved_filters.all_of(db.session, current_user):
            view = find_view(current_app, saved.endpoint)
            readable = isinstance(view, BaseModelView) and satisfies(
                endpoint_requirement(current_app, f"{saved.endpoint}.index_view")
            )
            if readable:
                rows.append((view.name, saved))
        return self.render("admin/saved_filters.html", rows=rows)

    @expose("/save/", methods=("POST",))
    def save_view(self):
        view = readable_list(request.form.get("list", ""))
        query = kept_query(request.form.get("query", ""))
        problem = query_problem(view, query)
        if problem:
            flash(gettext("These filters cannot be saved: %(problem)s.", problem=problem), "error")
            return redirect(self._list_url(view))
        try:
            saved = saved_filters.save(
                db.session, current_user, view.endpoint, request.form.get("name"), query
            )
        except DomainError as refused:
            flash(refused.message, "error")
            return redirect(self._list_url(view, query))
        flash(
            gettext('Saved filter "%(name)s" kept: open it from "Saved filters".', name=saved.name),
            "success",
        )
        return redirect(self._list_url(view, query))

    @expose("/<int:saved_id>/")
    def open_view(self, saved_id: int):
        saved = saved_filters.own(db.session, current_user, saved_id)
        if saved is None:
            abort(404)
        view = readable_list(saved.endpoint)
        problem = query_problem(view, saved.list_query)
        if problem:
            flash(
                gettext(
                    'The saved filter "%(name)s" no longer fits this list (%(problem)s); '
                    "here is the whole list instead. Save the filters again, then delete the "
                    "old one.",
                    name=saved.name,
                    problem=problem,
                ),
                "warning",
            )
            return redirect(self._list_url(view))
        return redirect(self._list_url(view, saved.list_query))

    @expose("/<int:saved_id>/delete/", methods=("POST",))
    def delete_view(self, saved_id: int):
        saved = saved_filters.own(db.session, current_user, saved_id)
        if saved is None:
            abort(404)
        view = readable_list(saved.endpoint)
        name = saved.name
        saved_filters.delete(db.session, saved)
        flash(gettext('Saved filter "%(name)s" deleted.', name=name), "success")
        return redirect(get_redirect_target() or self._list_url(view))
