"""The stock ledger's pages: the movements list and the Adjust stock form.

``/admin/stock/movements/`` lists every movement (``products.read``), filtered by
product, reason, person, order and date, exported like the other lists; nobody writes
it (the stock service does), and its Import button (``/admin/stock/movements/import/``,
``stock.adjust``) takes stock counts from a CSV or XLSX file. ``/admin/stock/adjust/``
(``stock.adjust``) records a receipt, count, damage or correction for one or many
products at once; the products list's "Adjust stock" action opens it with the selected
products filled in. The rules
and the writing are ``console.services.stock``; this module reads the form and shows
the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import (
    DateTimeBetweenFilter,
    DateTimeGreaterFilter,
    DateTimeSmallerFilter,
    FilterEqual,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup

from console.admin.base import SecuredBaseView, SecuredModelView
from console.admin.filters import MovementOrderFilter, MovementPersonFilter, MovementProductFilter
from console.admin.formatters import record_link
from console.admin.imports import ImportMixin, import_permissions
from console.database import db
from console.models import StockMovement, StockReason
from console.permissions import PRODUCTS_READ, STOCK_ADJUST
from console.services import stock as stock_service
from console.services.errors import DomainError

REASON_CHOICES = [(reason.value, reason.label) for reason in StockReason]


def reason_formatter(view: Any, context: Any, model: StockMovement, name: str) -> str:
    return model.reason_label


def signed_formatter(view: Any, context: Any, model: StockMovement, name: str) -> str:
    return f"{model.quantity:+d}"


def balance_formatter(view: Any, context: Any, model: StockMovement, name: str) -> str:
    return "" if model.balance_after is None else str(model.balance_after)


def product_formatter(view: Any, context: Any, model: StockMovement, name: str) -> Markup:
    return record_link(view, "product.details_view", model.product.id, model.product.sku)


def order_formatter(view: Any, context: Any, model: StockMovement, name: str) -> Markup | str:
    order = model.order
    if order is None:
        return ""
    return record_link(view, "order.details_view", order.id, order.number)


def actor_formatter(view: Any, context: Any, model: StockMovement, name: str) -> str:
    return model.actor.email if model.actor is not None else gettext("(system)")


class StockMovementAdmin(ImportMixin, SecuredModelView):
    """Every change of stock, newest first; read-only for everyone.

    Its Import button takes stock counts from a file (``stock.adjust``): each count is
    a "counted" movement written by the stock service (``console.jobs.imports``).
    """

    read_permission = PRODUCTS_READ
    write_permission = None
    delete_permission = None
    import_kind = "stock"
    list_template = "admin/model/importable_list.html"
    endpoint_permissions = import_permissions(STOCK_ADJUST)

    can_view_details_modal = False
    simple_list_pager = True
    """The ledger only grows: a page must not count every row of it."""
    named_filter_urls = True
    """Stable filter URLs: the product page links to ``flt0_product_sku_is``."""
    action_disallowed_list = ["delete"]

    column_list = [
        "created_at",
        "product",
        "reason",
        "quantity",
        "balance_after",
        "order",
        "actor",
        "note",
    ]
    column_details_list = column_list
    column_labels = {
        # Read in the person's zone (the footer names it); the date filters below and
        # the export keep UTC and say so.
        "created_at": lazy_gettext("When"),
        "product": lazy_gettext("Product"),
        "quantity": lazy_gettext("Change"),
        "balance_after": lazy_gettext("Stock after"),
        "actor": lazy_gettext("Who"),
    }
    column_formatters = {
        "reason": reason_formatter,
        "quantity": signed_formatter,
        "balance_after": balance_formatter,
        "product": product_formatter,
        "order": order_formatter,
        "actor": actor_formatter,
    }
    column_formatters_detail = column_formatters
    column_default_sort = [("created_at", True), ("id", True)]
    column_sortable_list = ["created_at", "reason", "quantity"]
    column_filters = [
        MovementProductFilter(),
        FilterEqual(StockMovement.reason, "Reason", options=REASON_CHOICES),
        MovementPersonFilter(),
        MovementOrderFilter(),
        DateTimeBetweenFilter(StockMovement.created_at, "When (UTC)"),
        DateTimeGreaterFilter(StockMovement.created_at, "When (UTC)"),
        DateTimeSmallerFilter(StockMovement.created_at, "When (UTC)"),
    ]
    export_specs = ("stock_movements",)
    # Forms are never shown (nobody may create or edit); one plain column keeps
    # Flask-Admin from scaffolding the relationships.
    form_columns = ["note"]


@dataclass
class RowInput:
    """One row of the form as typed, for showing it again after a refusal."""

    sku: str = ""
    quantity: str = ""


FORM_ROWS = 8
"""Empty rows the form offers (a list action may fill in more)."""


def _typed_rows() -> tuple[list[RowInput], list[stock_service.AdjustmentRow], list[str]]:
    """The rows posted: as typed, as the service takes them, and what is not a number."""
    skus = request.form.getlist("sku")
    quantities = request.form.getlist("quantity")
    typed: list[RowInput] = []
    rows: list[stock_service.AdjustmentRow] = []
    problems: list[str] = []
    for number, (sku, quantity) in enumerate(zip(skus, quantities, strict=False), start=1):
        sku, quantity = sku.strip()[:100], quantity.strip()[:30]
        typed.append(RowInput(sku, quantity))
        if not sku and not quantity:
            continue
        try:
            value = int(quantity)
        except ValueError:
            problems.append(
                f"Row {number}: give the quantity as a whole number"
                + (f" ({quantity!r} is not one)." if quantity else ".")
            )
            continue
        rows.append(stock_service.AdjustmentRow(sku, value))
    return typed, rows, problems


class StockAdjustView(SecuredBaseView):
    """Receipts, counts, damage and corrections, for one or many products at once."""

    read_permission = STOCK_ADJUST

    def _render(self, typed: list[RowInput], reason: str, note: str) -> str:
        """The form with what was typed (a refused form comes back as it was sent)."""
        rows = typed + [RowInput() for _ in range(max(FORM_ROWS - len(typed), 1))]
        page = self.render(
            "admin/stock/adjust.html",
            rows=rows,
            reason=reason,
            note=note,
            reasons=[
                (r.value, r.label, stock_service.ADJUSTMENT_HELP[r])
                for r in stock_service.ADJUSTMENT_REASONS
            ],
            note_max=stock_service.MAX_NOTE_LENGTH,
            movements_url=url_for("stock_movement.index_view"),
        )
        return page

    def form_page(self, skus: list[str]) -> Any:
        """The empty form with ``skus`` filled in (also the products list's action)."""
        chosen = [sku[:100] for sku in skus][: stock_service.MAX_ROWS]
        return self._render([RowInput(sku) for sku in chosen], "", "")

    @expose("/", methods=("GET", "POST"))
    def index(self):
        if request.method == "GET":
            return self.form_page(request.args.getlist("sku"))
        reason = request.form.get("reason", "").strip()[:40]
        note = request.form.get("note", "")[: stock_service.MAX_NOTE_LENGTH * 2]
        typed, rows, problems = _typed_rows()
        if problems:
            flash(" ".join([gettext("Nothing was changed."), *problems]), "error")
            return self._render(typed, reason, note)
        try:
            outcome = stock_service.adjust(
                db.session, current_user._get_current_object(), reason, rows, note
            )
        except DomainError as refused:
            flash(refused.message, "error")
            return self._render(typed, reason, note)
        if outcome.movements:
            changed = ", ".join(
                gettext(
                    "%(sku)s %(change)s (now %(balance)s)",
                    sku=m.product.sku,
                    change=format(m.quantity, "+d"),
                    balance=m.balance_after,
                )
                for m in outcome.movements
            )
            flash(gettext("Stock adjusted: %(changes)s.", changes=changed), "success")
        if outcome.unchanged:
            flash(
                gettext(
                    "Counted as the ledger expected, nothing to change: %(skus)s.",
                    skus=", ".join(outcome.unchanged),
                ),
                "info",
            )
        return redirect(url_for("stock_adjust.index"))
