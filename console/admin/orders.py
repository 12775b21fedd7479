"""Orders: taken by clerks, approved by managers; lines edited inline.

Totals, unit prices and numbers are set on the server by ``console.services.orders``;
the form carries only the customer, the coupon code and each line's product and quantity.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.helpers import get_redirect_target
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import InputRequired, NumberRange

from console.admin import timeline
from console.admin.base import SecuredModelView
from console.admin.fields import strip
from console.admin.filters import CustomerEmailFilter, ProductSkuFilter, TakenByFilter
from console.admin.formatters import (
    customer_link_formatter,
    datetime_formatter,
    money_formatter,
    order_lines_formatter,
)
from console.admin.lookups import CustomerLookup, RecordLookup, as_int_id
from console.database import db
from console.models import Order, OrderLine, OrderStatus, Product
from console.permissions import (
    ORDERS_APPROVE,
    ORDERS_READ,
    ORDERS_WRITE,
    PRODUCTS_READ,
    can,
)
from console.services import orders as order_service
from console.services import workflow
from console.services.errors import DomainError

STATUS_CHOICES = [(status.value, status.value.title()) for status in OrderStatus]

DONE = {
    "approve": "approved",
    "reject": "rejected",
    "ship": "shipped",
    "deliver": "marked delivered",
    "cancel": "cancelled",
}
"""How a successful transition reads in the confirmation message."""

MAX_REPORTED_REFUSALS = 10
"""Refusals listed one by one in a bulk summary (the flash lives in the session cookie)."""


class OrderLineInline(InlineFormAdmin):
    """One line of an order: a product (looked up by SKU or name) and a quantity."""

    form_columns = ["id", "product", "quantity"]
    form_label = "Line"
    form_args = {
        "quantity": {
            "validators": [
                InputRequired(message="Enter a quantity."),
                NumberRange(min=1, max=1_000_000, message="The quantity must be at least 1."),
            ]
        },
    }
    form_ajax_refs = {
        "product": RecordLookup(
            "product",
            Product,
            permission=PRODUCTS_READ,
            fields=["sku", "name"],
            order_by="sku",
            placeholder="Search an active product by SKU or name",
            # Only products on sale can be added to an order.
            filters=["active = true"],
        )
    }


class OrderAdmin(SecuredModelView):
    read_permission = ORDERS_READ
    write_permission = ORDERS_WRITE

    column_list = ["number", "customer", "status", "total", "created_at", "created_by"]
    column_labels = {
        "number": "Order",
        "created_at": "Created (UTC)",
        "created_by": "Taken by",
        "placed_at": "Placed (UTC)",
        "decided_at": "Decided (UTC)",
        "shipped_at": "Shipped (UTC)",
        "delivered_at": "Delivered (UTC)",
        "cancelled_at": "Cancelled (UTC)",
        "updated_at": "Updated (UTC)",
        "customer.email": "Customer e-mail",
        "customer.last_name": "Customer last name",
    }
    column_select_related_list = [Order.customer, Order.created_by]
    column_searchable_list = ["number", "customer.email", "customer.last_name"]
    # The orders table is the big one: skip the full count(*) each list page would pay,
    # and page with "previous / next" instead of numbered pages.
    simple_list_pager = True
    column_filters = [
        FilterEqual(Order.status, "Status", options=STATUS_CHOICES),
        "created_at",
        "total",
        CustomerEmailFilter(),
        ProductSkuFilter(),
        TakenByFilter(),
    ]
    column_sortable_list = ["number", "status", "total", "created_at"]
    # The id breaks ties between orders taken in the same second, so pages never overlap.
    column_default_sort = [("created_at", True), ("id", True)]
    column_formatters = {
        "customer": customer_link_formatter,
        "total": money_formatter,
        "created_at": datetime_formatter,
    }
    column_details_list = [
        "number",
        "customer",
        "status",
        "coupon_code",
        "lines",
        "total",
        "created_by",
        "created_at",
        "placed_at",
        "decided_by",
        "decided_at",
        "rejection_reason",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "updated_at",
    ]
    column_formatters_detail = {
        "customer": customer_link_formatter,
        "lines": order_lines_formatter,
        "total": money_formatter,
    }

    # One row per order, or one per order line (console/jobs/export_specs.py).
    export_specs = ("orders", "order_lines")

    form_columns = ["customer", "coupon_code", "lines"]
    form_args = {"coupon_code": {"filters": [strip]}}
    form_ajax_refs = {"customer": CustomerLookup(placeholder="Search a customer by name or e-mail")}
    inline_models = [OrderLineInline(OrderLine)]

    details_template = "admin/order/details.html"
    edit_template = "admin/order/edit.html"
    list_template = "admin/order/list.html"

    def get_one(self, id: Any) -> Order | None:
        """The order with its lines, their products and its people, in a fixed few queries."""
        number = as_int_id(id)
        if number is None:
            return None
        return db.session.get(Order, number, options=_whole_order())

    search_hint = "Search by order number, customer e-mail or name"

    def filter_url(self, filter_type: type, value: str) -> str:
        """The order list filtered by the first filter of ``filter_type`` equal to ``value``."""
        for index, flt in enumerate(self._filters or []):
            if isinstance(flt, filter_type):
                arg = f"flt0_{self.get_filter_arg(index, flt)}"
                return url_for(f"{self.endpoint}.index_view", **{arg: value})
        raise LookupError(f"{type(self).__name__} has no {filter_type.__name__}")

    def _apply_pagination(self, query, page: int | None, page_size: int | None):
        """Deferred join: find a deep page's ids in the indexes first, then load only those.

        ``OFFSET n`` makes the database build, and throw away, ``n`` full rows with their
        joined customers; selecting the ids alone reads only index entries. Flask-Admin's
        pagination has no public hook, hence this override of its private step.
        """
        if page_size is None:
            page_size = self.page_size
        if not page or not page_size:
            return super()._apply_pagination(query, page, page_size)
        ids = query.with_entities(Order.id).offset(page * page_size).limit(page_size).subquery()
        return query.filter(Order.id.in_(select(ids.c.id))).limit(page_size)

    def _apply_search(self, query, count_query, joins, count_joins, search: str):
        """Match each search term through an index (``orders.search_condition``).

        Flask-Admin has no public hook for how a term matches; its default, a substring
        ILIKE over the joined customer columns, reads every order of a large table.
        """
        for term in search.split():
            condition = order_service.search_condition(term)
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def on_model_change(self, form, model: Order, is_created: bool) -> None:
        """Let the order service check the lines and set prices, total and number.

        "Save and Continue Editing" keeps the order a draft; any other save places it,
        which tells the customer (once) that the order was received.
        """
        order_service.prepare_order(
            db.session,
            model,
            current_user,
            created=is_created,
            place="_continue_editing" not in request.form,
        )

    def after_model_change(self, form, model: Order, is_created: bool) -> None:
        if model.placed_at is None:
            flash(
                f"Order {model.number} is saved as a draft; the customer is told once you "
                "press Save.",
                "info",
            )

    def timeline_for(self, order: Order) -> list[timeline.TimelineEntry]:
        """Who took, changed and decided ``order``, from the audit trail (its pages)."""
        return timeline.order_timeline(order)

    def editors_in(self, entries: list[timeline.TimelineEntry]) -> list[str]:
        return timeline.changed_by(entries)

    # --- status transitions ---------------------------------------------------------

    def transitions_for(self, order: Order) -> list[workflow.Transition]:
        """The buttons the current person gets on ``order``'s page."""
        return [
            t
            for t in workflow.TRANSITIONS.values()
            if order.status in t.sources and can(t.permission)
        ]

    def approval_refusal(self, order: Order) -> str | None:
        """Why the current person may not approve ``order`` (four-eyes rule), or None.

        The page shows the Approve button disabled with this reason rather than
        letting the person find out by clicking; the service still decides.
        """
        return workflow.four_eyes_refusal(order, current_user._get_current_object())

    @expose("/<int:order_id>/do/<transition_name>/", methods=("POST",))
    def transition_view(self, order_id: int, transition_name: str):
        """One transition of one order (the buttons of the details page).

        (``name`` would clash with Flask-Admin's own view argument, hence ``transition_name``.)

        The permission is checked here, not only by hiding the button; the service
        checks it again with the rules, and its refusal becomes the flash message.
        """
        transition = workflow.TRANSITIONS.get(transition_name)
        if transition is None or as_int_id(order_id) is None:
            abort(404)
        if not can(transition.permission):
            abort(403)
        return_url = get_redirect_target() or self.get_url(".details_view", id=order_id)
        try:
            order = workflow.perform(
                db.session,
                transition_name,
                order_id,
                current_user._get_current_object(),
                reason=request.form.get("reason"),
                tracking=request.form.get("tracking"),
                expected_version=request.form.get("version", type=int),
            )
        except DomainError as refused:
            flash(refused.message, "error")
        else:
            flash(f"Order {order.number} {DONE[transition_name]}.", "success")
        return redirect(return_url)

    # Each bulk transition asks for the transition's own permission (workflow.TRANSITIONS).
    action_permissions = {
        name: workflow.TRANSITIONS[name].permission
        for name in ("approve", "reject", "deliver", "cancel")
    }
    # The transition buttons: reading orders, plus the permission of the transition
    # named in the URL (``permission_for``).
    endpoint_permissions = {"transition_view": ORDERS_READ}

    def permission_for(self, name: str):
        requirement = super().permission_for(name)
        if name == "transition_view" and requirement is not None:
            transition = _requested_transition()
            if transition is not None:
                requirement = (*requirement, transition.permission)
        return requirement

    def _bulk(self, name: str, ids: list[str], **values: str | None) -> None:
        """Run one transition on each selected order, each in its own transaction.

        One refusal does not undo the others; the summary names each refused order
        and why.
        """
        actor = current_user._get_current_object()
        done: list[str] = []
        refused: list[str] = []
        for raw in ids:
            try:
                order = workflow.perform(db.session, name, raw, actor, **values)
            except DomainError as exc:
                refused.append(exc.message)
            else:
                done.append(order.number)
        if done:
            flash(f"{DONE[name].capitalize()}: {', '.join(done)}.", "success")
        if refused:
            shown = refused[:MAX_REPORTED_REFUSALS]
            more = len(refused) - len(shown)
            tail = f" (and {more} more)" if more else ""
            flash(f"Refused {len(refused)} of {len(ids)}{tail}: " + " | ".join(shown), "error")

    @action("approve", "Approve", "Approve the selected orders? Stock is reserved for each.")
    def action_approve(self, ids: list[str]) -> None:
        self._bulk("approve", ids)

    @action("reject", "Reject (asks for the reason)")
    def action_reject(self, ids: list[str]) -> None:
        reason = (request.form.get("reason") or "").strip()
        if not reason:
            flash("Give the reason for rejecting the orders; the customers read it.", "error")
            return
        self._bulk("reject", ids, reason=reason)

    @action("deliver", "Mark delivered", "Mark the selected orders as delivered?")
    def action_deliver(self, ids: list[str]) -> None:
        self._bulk("deliver", ids)

    @action("cancel", "Cancel", "Cancel the selected orders? Approved orders return their stock.")
    def action_cancel(self, ids: list[str]) -> None:
        self._bulk("cancel", ids)


def _whole_order() -> list:
    """Loader options for an order with its lines, their products and its people."""
    return [
        selectinload(Order.lines).joinedload(OrderLine.product),
        joinedload(Order.customer),
        joinedload(Order.created_by),
        joinedload(Order.decided_by),
    ]


def _requested_transition() -> workflow.Transition | None:
    """The transition named in this request's URL, if any."""
    if not has_request_context() or not request.view_args:
        return None
    return workflow.TRANSITIONS.get(request.view_args.get("transition_name", ""))


class PendingOrderAdmin(OrderAdmin):
    """Orders waiting for a decision, oldest first: the managers' work list."""

    read_permission = ORDERS_APPROVE
    write_permission = None  # orders are taken and edited under Orders

    column_default_sort = [("created_at", False), ("id", False)]
    column_filters = ["created_at", "total", CustomerEmailFilter(), ProductSkuFilter()]
    # Every order listed here is pending: "Mark delivered" could never apply.
    action_disallowed_list = ["deliver"]

    def get_query(self):
        return super().get_query().filter(Order.status == OrderStatus.PENDING.value)

    def get_count_query(self):
        return super().get_count_query().filter(Order.status == OrderStatus.PENDING.value)
