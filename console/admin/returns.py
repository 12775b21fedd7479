"""The returns pages: the Returns list, a return's page, and the forms of each step.

``/admin/returns/`` lists returns (``orders.read``), filtered by state; a return's page
shows its lines and offers **Receive** (``returns.manage``: per line back to stock or
written off) and **Refund** (``orders.approve``: the most it may give back, which can
be lowered, and a shipping refund). ``/admin/returns/new/<order_id>/`` is the "Create
return" form of a shipped or delivered order (``returns.manage``). The rules and the
writing are ``console.services.returns``; this module reads the forms and shows the
outcome.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload, selectinload

from console.admin.base import SecuredModelView
from console.admin.formatters import format_money, record_link, vocabulary_formatter
from console.admin.lookups import as_int_id
from console.database import db
from console.models import Order, Return, ReturnLine, ReturnState
from console.models.returns import ReturnOutcome
from console.permissions import ORDERS_APPROVE, ORDERS_READ, RETURNS_MANAGE, can
from console.services import returns as return_service
from console.services.errors import DomainError

STATE_CHOICES = [(state.value, state.label) for state in ReturnState]


def order_formatter(view: Any, context: Any, model: Return, name: str) -> Markup:
    return record_link(view, "order.details_view", model.order_id, model.order.number)


def lines_formatter(view: Any, context: Any, model: Return, name: str) -> str:
    return ", ".join(
        f"{line.quantity} × {line.order_line.sku}"
        + (f" ({line.outcome_label.lower()})" if line.outcome else "")
        for line in model.lines
    )


def money_formatter(view: Any, context: Any, model: Return, name: str) -> str:
    value = getattr(model, name)
    return "" if value is None else format_money(value)


class ReturnAdmin(SecuredModelView):
    """Returns, newest first; written only through their steps' forms."""

    read_permission = ORDERS_READ
    write_permission = None
    delete_permission = None
    export_permission = None
    action_disallowed_list = ["delete"]
    can_view_details_modal = False
    details_template = "admin/return/details.html"
    named_filter_urls = True

    column_list = ["id", "order", "state", "lines", "reason", "requested_at", "refund_total"]
    column_details_list = [
        "id",
        "order",
        "state",
        "lines",
        "reason",
        "requested_by",
        "requested_at",
        "received_by",
        "received_at",
        "refunded_by",
        "refunded_at",
        "refund_shipping",
        "refund_total",
        "credit_note",
    ]
    column_labels = {
        # Times read in the person's zone, which the page's footer names.
        "id": lazy_gettext("Return"),
        "requested_at": lazy_gettext("Requested at"),
        "received_at": lazy_gettext("Received at"),
        "refunded_by": lazy_gettext("Refund approved by"),
        "refunded_at": lazy_gettext("Refunded at"),
        "refund_shipping": lazy_gettext("Shipping refunded"),
        "refund_total": lazy_gettext("Refunded amount"),
    }
    column_formatters = {
        "order": order_formatter,
        "state": vocabulary_formatter(ReturnState),
        "lines": lines_formatter,
        "refund_total": money_formatter,
        "refund_shipping": money_formatter,
    }
    column_formatters_detail = column_formatters
    column_default_sort = [("id", True)]
    column_sortable_list = ["id", "state", "requested_at"]
    column_filters = [FilterEqual(Return.state, "State", options=STATE_CHOICES)]
    form_columns = ["reason"]

    def get_query(self):
        """The list with each row's order and lines in the same few queries (not one
        query per row)."""
        return (
            super()
            .get_query()
            .options(
                joinedload(Return.order),
                selectinload(Return.lines).joinedload(ReturnLine.order_line),
            )
        )

    # Creating a return: returns.manage; receiving: returns.manage; refunding:
    # orders.approve (each on top of reading orders).
    endpoint_permissions = {
        "request_view": RETURNS_MANAGE,
        "receive_view": RETURNS_MANAGE,
        "refund_view": ORDERS_APPROVE,
    }

    # --- what the return's page offers ---------------------------------------------------

    def outcomes(self) -> list[tuple[str, str]]:
        return [(outcome.value, outcome.label) for outcome in ReturnOutcome]

    def may_receive(self, model: Return) -> bool:
        return model.state == ReturnState.REQUESTED and can(RETURNS_MANAGE)

    def may_refund(self, model: Return) -> bool:
        return model.state == ReturnState.RECEIVED and can(ORDERS_APPROVE)

    def refund_quote(self, model: Return) -> return_service.RefundQuote:
        return return_service.refund_quote(db.session, model)

    def refund_refusal(self, model: Return, quote: return_service.RefundQuote) -> str | None:
        """The four-eyes rule for the largest refund, shown beside the button."""
        return return_service.four_eyes_refusal(
            model, current_user._get_current_object(), quote.most
        )

    def money(self, value: Any) -> str:
        return format_money(value)

    def credit_note_url(self, model: Return) -> str | None:
        if model.credit_note_id is None:
            return None
        return url_for("order.credit_note_pdf", credit_note_id=model.credit_note_id)

    def _back(self, return_id: int):
        return redirect(self.get_url(".details_view", id=return_id))

    # --- the steps ----------------------------------------------------------------------

    @expose("/new/<int:order_id>/", methods=("GET", "POST"))
    def request_view(self, order_id: int):
        """The "Create return" form of a shipped or delivered order."""
        number = as_int_id(order_id)
        order = None if number is None else db.session.get(Order, number)
        if order is None:
            abort(404)
        typed = {key: value[:20] for key, value in request.form.items()}
        if request.method == "POST":
            lines, problems = [], []
            for line in order.lines:
                raw = request.form.get(f"quantity-{line.id}", "").strip()
                if not raw:
                    continue
                try:
                    lines.append(return_service.RequestedLine(line.id, int(raw)))
                except ValueError:
                    problems.append(f"{line.sku}: give the quantity as a whole number.")
            try:
                if problems:
                    raise DomainError("Nothing was recorded. " + " ".join(problems))
                created = return_service.request_return(
                    db.session,
                    order.id,
                    current_user._get_current_object(),
                    lines,
                    request.form.get("reason", "")[: return_service.MAX_REASON_LENGTH * 2],
                )
            except DomainError as refused:
                flash(refused.message, "error")
            else:
                flash(
                    gettext(
                        "%(label)s of order %(number)s recorded.",
                        label=created.title,
                        number=order.number,
                    ),
                    "success",
                )
                return self._back(created.id)
        return self.render(
            "admin/return/request.html",
            order=order,
            lines=return_service.lines_of(db.session, order),
            returnable=order.status in return_service.RETURNABLE,
            typed=typed,
            reason=request.form.get("reason", "")[: return_service.MAX_REASON_LENGTH],
        )

    def _return_or_404(self, return_id: int) -> Return:
        number = as_int_id(return_id)
        found = None if number is None else db.session.get(Return, number)
        if found is None:
            abort(404)
        return found

    @expose("/<int:return_id>/receive/", methods=("POST",))
    def receive_view(self, return_id: int):
        """Record the goods as received: per line back to stock or written off."""
        found = self._return_or_404(return_id)
        outcomes = {line.id: request.form.get(f"outcome-{line.id}", "") for line in found.lines}
        try:
            done = return_service.receive(
                db.session, found.id, current_user._get_current_object(), outcomes
            )
        except DomainError as refused:
            flash(refused.message, "error")
        else:
            flash(gettext("%(label)s received; the customer is told.", label=done.title), "success")
        return self._back(found.id)

    @expose("/<int:return_id>/refund/", methods=("POST",))
    def refund_view(self, return_id: int):
        """Refund the return (the amount may be lowered) and issue its credit note."""
        found = self._return_or_404(return_id)
        shipping = (
            request.form.get("shipping", "")[:30] if request.form.get("with_shipping") else None
        )
        try:
            done = return_service.refund(
                db.session,
                found.id,
                current_user._get_current_object(),
                amount=request.form.get("amount", "")[:30],
                shipping=shipping,
            )
        except DomainError as refused:
            flash(refused.message, "error")
        else:
            note = done.credit_note
            flash(
                gettext(
                    "%(label)s refunded: %(amount)s, credit note %(number)s;"
                    " the customer is e-mailed.",
                    label=done.title,
                    amount=format_money(done.refund_total),
                    number=note.number if note else "",
                ),
                "success",
            )
        return self._back(found.id)


def returns_for_order(order: Order) -> list[Return]:
    """The order's returns, for its page."""
    return return_service.returns_of(db.session, order.id)


def create_return_url(order: Order) -> str | None:
    """The "Create return" link of a shipped or delivered order, for ``returns.manage``."""
    if order.status not in return_service.RETURNABLE or not can(RETURNS_MANAGE):
        return None
    return url_for("order_return.request_view", order_id=order.id)
