"""Orders: taken by clerks, approved by managers; lines edited inline.

Totals, unit prices and numbers are set on the server by ``console.services.orders``;
the form carries only the customer, the coupon code, the shipping method and each
line's product and quantity. ``preview`` answers the form, as JSON, what a save would
store (``console.services.orders.preview``: the same pricing as the save).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from flask import (
    abort,
    flash,
    has_request_context,
    jsonify,
    redirect,
    request,
    send_file,
    url_for,
)
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.form import RenderTemplateWidget
from flask_admin.helpers import get_redirect_target
from flask_admin.model.form import InlineFormAdmin
from flask_babel import LazyString, gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import InputRequired, NumberRange

from console.admin import returns as order_returns
from console.admin import timeline
from console.admin.addresses import (
    OrderAddressFormMixin,
    address_html,
    order_address_form_args,
    order_address_form_columns,
)
from console.admin.base import SecuredModelView
from console.admin.fields import known_choices, strip
from console.admin.filters import CustomerEmailFilter, ProductSkuFilter, TakenByFilter
from console.admin.formatters import (
    customer_link_formatter,
    datetime_formatter,
    delivery_badge,
    format_money,
    money_formatter,
    order_lines_formatter,
    status_badge,
    status_badge_formatter,
    tax_lines_formatter,
)
from console.admin.lookups import CustomerLookup, RecordLookup, as_int_id
from console.admin.order_notes import OrderNotesMixin
from console.database import db
from console.models import (
    CreditNote,
    Invoice,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Return,
    ShippingMethod,
)
from console.permissions import (
    NOTIFICATIONS_READ,
    ORDERS_APPROVE,
    ORDERS_FULFIL,
    ORDERS_READ,
    ORDERS_WRITE,
    PRODUCTS_READ,
    can,
    satisfies,
)
from console.services import documents as document_service
from console.services import orders as order_service
from console.services import pending, workflow
from console.services.errors import DomainError, PricingRefused
from console.services.pricing import MAX_QUANTITY, Quote, quantity_range_message

STATUS_CHOICES = [(status.value, status.label) for status in OrderStatus]

DONE = {
    "approve": lazy_gettext("Order %(number)s approved."),
    "reject": lazy_gettext("Order %(number)s rejected."),
    "ship": lazy_gettext("Order %(number)s shipped."),
    "deliver": lazy_gettext("Order %(number)s marked delivered."),
    "cancel": lazy_gettext("Order %(number)s cancelled."),
}
"""How a successful transition reads in the confirmation message."""
BULK_DONE = {
    "approve": lazy_gettext("Approved: %(numbers)s."),
    "reject": lazy_gettext("Rejected: %(numbers)s."),
    "ship": lazy_gettext("Shipped: %(numbers)s."),
    "deliver": lazy_gettext("Marked delivered: %(numbers)s."),
    "cancel": lazy_gettext("Cancelled: %(numbers)s."),
}
"""The same, for a list action over several orders."""

MAX_REPORTED_REFUSALS = 10
"""Refusals listed one by one in a bulk summary (the flash lives in the session cookie)."""


class OrderLineInline(InlineFormAdmin):
    """One line of an order: a product (looked up by SKU or name) and a quantity."""

    form_columns = ["id", "product", "quantity"]
    form_label = "Line"
    form_args = {
        "quantity": {
            "validators": [
                InputRequired(message=lazy_gettext("Enter a quantity.")),
                NumberRange(
                    min=1,
                    max=MAX_QUANTITY,
                    message=LazyString(quantity_range_message),
                ),
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


class OrderAdmin(OrderNotesMixin, OrderAddressFormMixin, SecuredModelView):
    read_permission = ORDERS_READ
    write_permission = ORDERS_WRITE

    column_list = ["number", "customer", "status", "total", "created_at", "created_by"]
    column_labels = {
        "number": lazy_gettext("Order"),
        "created_at": lazy_gettext("Created"),
        "created_by": lazy_gettext("Taken by"),
        "placed_at": lazy_gettext("Placed"),
        "decided_at": lazy_gettext("Decided"),
        "shipped_at": lazy_gettext("Shipped"),
        "delivered_at": lazy_gettext("Delivered"),
        "cancelled_at": lazy_gettext("Cancelled"),
        "updated_at": lazy_gettext("Updated"),
        "customer.email": lazy_gettext("Customer e-mail"),
        "customer.last_name": lazy_gettext("Customer last name"),
        "shipping_method": lazy_gettext("Shipping"),
        "discount_total": lazy_gettext("Discount"),
        "shipping_total": lazy_gettext("Shipping charge"),
        "tax_total": lazy_gettext("Tax"),
        "tax_lines": lazy_gettext("Tax by rate"),
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
        "status": status_badge_formatter,
        "total": money_formatter,
        "created_at": datetime_formatter,
    }
    # The addresses are in the order's header (templates/admin/order/_addresses.html).
    column_details_list = [
        "number",
        "customer",
        "status",
        "coupon_code",
        "shipping_method",
        "lines",
        "subtotal",
        "discount_total",
        "shipping_total",
        "tax_total",
        "tax_lines",
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
        "status": status_badge_formatter,
        "lines": order_lines_formatter,
        "subtotal": money_formatter,
        "discount_total": money_formatter,
        "shipping_total": money_formatter,
        "tax_total": money_formatter,
        "tax_lines": tax_lines_formatter,
        "total": money_formatter,
    }

    # One row per order, or one per order line (console/jobs/export_specs.py).
    export_specs = ("orders", "order_lines")

    # The address pickers and one-off fields: console.admin.addresses.
    form_columns = [
        "customer",
        *order_address_form_columns(),
        "coupon_code",
        "shipping_method",
        "lines",
    ]
    form_args = {
        "coupon_code": {"filters": [strip]},
        # Methods still offered; an order keeps an inactive one it has (``edit_form``).
        "shipping_method": {
            "query_factory": lambda: offered_shipping_methods(),
            "allow_blank": True,
            "blank_text": "No shipping (collected)",
            # A method not offered would otherwise be read as "no shipping", silently.
            "validators": [known_choices],
        },
        **order_address_form_args(),
        # The lines as one compact grid with the running figures (order-grid.js).
        "lines": {"widget": RenderTemplateWidget("admin/order/_line_grid.html")},
    }
    form_ajax_refs = {"customer": CustomerLookup(placeholder="Search a customer by name or e-mail")}
    inline_models = [OrderLineInline(OrderLine)]

    create_template = "admin/order/create.html"
    details_template = "admin/order/details.html"
    edit_template = "admin/order/edit.html"
    list_template = "admin/order/list.html"
    queue_keys = False
    """Whether the list offers the pending queue's keys (templates/admin/order/_queue.html)."""

    def get_one(self, id: Any) -> Order | None:
        """The order with its lines, their products and its people, in a fixed few queries."""
        number = as_int_id(id)
        if number is None:
            return None
        return db.session.get(Order, number, options=_whole_order())

    search_hint = lazy_gettext("Search by order number, customer e-mail or name")

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

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)
        method = getattr(obj, "shipping_method", None)
        if method is not None and not method.active:
            form.shipping_method.query_factory = lambda: offered_shipping_methods(also=method)
        return form

    def on_model_change(self, form, model: Order, is_created: bool) -> None:
        """Copy the chosen addresses, then let the order service check the lines and
        set prices, total and number.

        "Save and Continue Editing" keeps the order a draft; any other save places it,
        which tells the customer (once) that the order was received. What pricing
        refuses (a coupon code used up, a shipping method withdrawn) is shown on its
        field; the save is rolled back.
        """
        self.keep_chosen_addresses(form, model, is_created)
        try:
            order_service.prepare_order(
                db.session,
                model,
                current_user,
                created=is_created,
                place="_continue_editing" not in request.form,
            )
        except PricingRefused as refused:
            for name, messages in refused.errors.items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors = [*field.errors, *messages]
            raise DomainError(f"Nothing was saved: {refused.message}") from None

    @expose("/preview", methods=("POST",))
    def preview(self):
        """What saving the order form would store, as JSON, without saving anything.

        Takes ``{"order_id"?, "customer_id", "coupon_code", "shipping_method_id",
        "lines": [{"product_id", "quantity", "line_id"?}]}`` with the CSRF token in the
        ``X-CSRFToken`` header, and answers the quote (``Quote.as_json``): 200 when it
        could be saved as it is, 400 with ``errors`` by form field otherwise. An order
        the person may not change answers 403, one that does not exist 404.
        """
        draft, order_id, problems = _read_draft(request.get_json(silent=True))
        if problems:
            return jsonify({"errors": problems}), 400
        order = None
        if order_id is not None:
            order = self.get_one(order_id)
            if order is None:
                return jsonify({"errors": {"order_id": ["There is no such order."]}}), 404
        try:
            quote = order_service.preview(
                db.session, draft, current_user._get_current_object(), order
            )
        except DomainError as refused:
            return jsonify({"errors": {"order_id": [refused.message]}}), 403
        return jsonify({**quote.as_json(), "shown": shown_figures(quote)}), (
            200 if quote.ok else 400
        )

    def after_model_change(self, form, model: Order, is_created: bool) -> None:
        if model.placed_at is None:
            flash(
                gettext(
                    "Order %(number)s is saved as a draft; the customer is told once you "
                    "press Save.",
                    number=model.number,
                ),
                "info",
            )

    def timeline_for(self, order: Order) -> list[timeline.TimelineEntry]:
        """The story of ``order`` for its pages: changes, decisions, e-mails, notes."""
        return timeline.order_timeline(order)

    # --- what the order's header and timeline ask ---------------------------------

    def status_badge(self, status: str | None) -> Markup:
        return status_badge(status)

    def money(self, value: Decimal | None) -> str:
        return format_money(value)

    def order_address_html(self, order: Order, kind: str) -> Markup:
        """The order's billing or shipping address as it keeps it (``_addresses.html``)."""
        return address_html(order.address(kind))

    def delivery_badge(self, state: str | None) -> Markup:
        return delivery_badge(state)

    def notification_url(self, message_id: int) -> str | None:
        """The outbox page of an e-mail, for those who may read the outbox."""
        if not can(NOTIFICATIONS_READ):
            return None
        return url_for("notification.details_view", id=message_id)

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

    def queue_neighbours(self, order: Order, list_url: str) -> dict[str, str] | None:
        """The addresses of the previous and next orders of the pending queue, for the
        order page's queue links and keys; None unless ``order`` waits for a decision
        this person may take."""
        if order.status != OrderStatus.PENDING.value or not can(ORDERS_APPROVE):
            return None
        person = current_user._get_current_object()
        links = {}
        for name, backwards in (("previous", True), ("next", False)):
            other = pending.next_pending(db.session, order, person, backwards=backwards)
            if other is not None:
                links[name] = self.get_url(".details_view", id=other.id, url=list_url)
        return links

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
            return redirect(return_url)
        done = str(DONE[transition_name]) % {"number": order.number}
        if transition_name in ("approve", "reject") and request.form.get("then") == "next":
            return self._to_next_pending(order, done)
        flash(done, "success")
        return redirect(return_url)

    def _to_next_pending(self, decided: Order, done: str):
        """After a decision taken on an order's page: the next order of the queue.

        The order's page is opened with the list it came from (``list_url``), so its
        "Back to the list" link still leads there; with no order left to decide, the
        person lands on that list.
        """
        list_url = get_redirect_target("list_url") or self.get_url(".index_view")
        following = pending.next_pending(db.session, decided, current_user._get_current_object())
        if following is None:
            flash(
                gettext("%(done)s No other pending order is waiting for your decision.", done=done),
                "success",
            )
            return redirect(list_url)
        flash(
            gettext("%(done)s Next pending order: %(number)s.", done=done, number=following.number),
            "success",
        )
        return redirect(self.get_url(".details_view", id=following.id, url=list_url))

    # --- documents: invoices, credit notes, packing slips ------------------------------

    def documents_for(self, order: Order) -> list[tuple[str, str, str]]:
        """(kind, number, download URL) of each document issued for ``order``.

        The downloads are the Orders list's (the approval queue serves none), so the
        links work from any page that shows the order's header.
        """
        endpoints = {"invoice": "order.invoice_pdf", "credit_note": "order.credit_note_pdf"}
        labels = {"invoice": "Invoice", "credit_note": "Credit note"}
        found = []
        for document in document_service.documents_of(db.session, order):
            url = url_for(endpoints[document.kind], **{f"{document.kind}_id": document.id})
            found.append((labels[document.kind], document.number, url))
        return found

    def returns_for(self, order: Order) -> list[Return]:
        """The order's returns, for its header."""
        return order_returns.returns_for_order(order)

    def create_return_url(self, order: Order) -> str | None:
        """ "Create return" for a shipped or delivered order (``returns.manage``)."""
        return order_returns.create_return_url(order)

    def packing_slip_url(self, order: Order) -> str | None:
        """The order's packing slip, for those who ship (and once it can be packed)."""
        packable = {OrderStatus.APPROVED, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
        if order.status not in packable or not satisfies(self.permission_for("packing_slip")):
            return None
        return self.get_url(".packing_slip", order_id=order.id)

    @staticmethod
    def _pdf(data: bytes, file_name: str):
        return send_file(
            io.BytesIO(data),
            mimetype="application/pdf",
            as_attachment=True,
            download_name=file_name,
            max_age=0,
        )

    def _issued_pdf(self, model: type[Invoice] | type[CreditNote], document_id: int):
        """An issued document's PDF as issued, or 404 for an id no document has."""
        number = as_int_id(document_id)
        document = None if number is None else db.session.get(model, number)
        if document is None:
            abort(404)
        return self._pdf(document.pdf, document.file_name)

    @expose("/invoice/<int:invoice_id>/")
    def invoice_pdf(self, invoice_id: int):
        """An invoice's PDF (``orders.read``, checked by the view before it runs)."""
        return self._issued_pdf(Invoice, invoice_id)

    @expose("/credit-note/<int:credit_note_id>/")
    def credit_note_pdf(self, credit_note_id: int):
        """A credit note's PDF (``orders.read``)."""
        return self._issued_pdf(CreditNote, credit_note_id)

    @expose("/<int:order_id>/packing-slip/")
    def packing_slip(self, order_id: int):
        """One order's packing slip (``orders.fulfil``): lines and quantities, no prices."""
        number = as_int_id(order_id)
        order = None if number is None else db.session.get(Order, number)
        if order is None:
            abort(404)
        data = document_service.packing_slips(db.session, [order.id])
        return self._pdf(data, f"packing-slip-{order.number}.pdf")

    @action("packing_slips", lazy_gettext("Print packing slips"))
    def action_packing_slips(self, ids: list[str]):
        """The selected orders' packing slips as one PDF, one order per page."""
        try:
            order_ids = [int(raw) for raw in ids]
            data = document_service.packing_slips(db.session, order_ids)
        except DomainError as refused:
            flash(refused.message, "error")
            return None
        name = f"packing-slips-{len(order_ids)}-orders.pdf"
        return self._pdf(data, name)

    # Each bulk transition asks for the transition's own permission (workflow.TRANSITIONS);
    # packing slips are for those who ship.
    action_permissions = {
        **{
            name: workflow.TRANSITIONS[name].permission
            for name in ("approve", "reject", "deliver", "cancel")
        },
        "packing_slips": ORDERS_FULFIL,
    }
    # The transition buttons: reading orders, plus the permission of the transition
    # named in the URL (``permission_for``).
    # Internal notes: writing orders (``note_view``, ``OrderNotesMixin``), on any status.
    # The preview serves the order form: the form's own permission.
    # Invoices and credit notes: anyone who reads orders; packing slips: those who ship.
    endpoint_permissions = {
        "transition_view": ORDERS_READ,
        "note_view": ORDERS_WRITE,
        "preview": ORDERS_WRITE,
        "invoice_pdf": ORDERS_READ,
        "credit_note_pdf": ORDERS_READ,
        "packing_slip": ORDERS_FULFIL,
    }

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
            flash(str(BULK_DONE[name]) % {"numbers": ", ".join(done)}, "success")
        if refused:
            shown = refused[:MAX_REPORTED_REFUSALS]
            more = len(refused) - len(shown)
            summary = (
                gettext(
                    "Refused %(refused)s of %(total)s (and %(more)s more): %(reasons)s",
                    refused=len(refused),
                    total=len(ids),
                    more=more,
                    reasons=" | ".join(shown),
                )
                if more
                else gettext(
                    "Refused %(refused)s of %(total)s: %(reasons)s",
                    refused=len(refused),
                    total=len(ids),
                    reasons=" | ".join(shown),
                )
            )
            flash(summary, "error")

    @action(
        "approve",
        lazy_gettext("Approve"),
        lazy_gettext("Approve the selected orders? Stock is reserved for each."),
    )
    def action_approve(self, ids: list[str]) -> None:
        self._bulk("approve", ids)

    @action("reject", lazy_gettext("Reject (asks for the reason)"))
    def action_reject(self, ids: list[str]) -> None:
        reason = (request.form.get("reason") or "").strip()
        if not reason:
            flash(
                gettext("Give the reason for rejecting the orders; the customers read it."),
                "error",
            )
            return
        self._bulk("reject", ids, reason=reason)

    @action(
        "deliver",
        lazy_gettext("Mark delivered"),
        lazy_gettext("Mark the selected orders as delivered?"),
    )
    def action_deliver(self, ids: list[str]) -> None:
        self._bulk("deliver", ids)

    @action(
        "cancel",
        lazy_gettext("Cancel"),
        lazy_gettext("Cancel the selected orders? Approved orders return their stock."),
    )
    def action_cancel(self, ids: list[str]) -> None:
        self._bulk("cancel", ids)


def shown_figures(quote: Quote) -> dict[str, Any]:
    """The quote's figures written as the order's page writes them (``_totals.html``).

    The order grid (``static/js/order-grid.js``) displays these strings as they are, so
    that the form and the saved order read the same, amount for amount.
    """
    tax_word = "Tax included" if quote.prices_include_tax else "Tax"
    return {
        "subtotal": format_money(quote.subtotal),
        "discount_total": (
            f"-{format_money(quote.discount_total)}"
            if quote.discount_total
            else format_money(quote.discount_total)
        ),
        "shipping_total": format_money(quote.shipping_total),
        "tax_total": format_money(quote.tax_total),
        "tax_total_label": f"{tax_word}, all rates",
        "total": format_money(quote.total),
        "taxes": [
            {
                "label": f"{tax_word} {tax.name} {tax.rate:.2f} % on {format_money(tax.base)}",
                "tax": format_money(tax.tax),
            }
            for tax in quote.taxes
        ],
        "lines": [
            {
                "unit_price": format_money(line.unit_price),
                "tax_rate": f"{line.tax_rate:.2f} %",
                "line_total": format_money(line.line_total),
                "stock": "" if line.stock is None else f"{line.stock:,}",
            }
            for line in quote.lines
        ],
    }


def _whole_order() -> list:
    """Loader options for an order with its lines, their products, its people, its
    shipping method and its tax lines."""
    return [
        selectinload(Order.lines).joinedload(OrderLine.product),
        selectinload(Order.tax_lines),
        joinedload(Order.customer),
        joinedload(Order.created_by),
        joinedload(Order.decided_by),
        joinedload(Order.shipping_method),
    ]


def offered_shipping_methods(also: ShippingMethod | None = None) -> list[ShippingMethod]:
    """The shipping methods an order may pick: the active ones (and ``also``), by name."""
    offered = ShippingMethod.active.is_(True)
    if also is not None:
        offered = offered | (ShippingMethod.id == also.id)
    return list(db.session.scalars(select(ShippingMethod).where(offered).order_by("name")))


MAX_PREVIEW_LINES = 500
"""More lines than any order form holds: a bigger preview is refused, not computed."""


def _id(value: Any) -> int | None:
    """A record id from JSON: a whole number a database key can hold, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return as_int_id(value)


def _read_draft(
    body: Any,
) -> tuple[order_service.OrderDraft, int | None, dict[str, list[str]]]:
    """The order form's JSON as a draft, the order's id, and what is malformed (by field)."""
    problems: dict[str, list[str]] = {}
    empty = order_service.OrderDraft(lines=())
    if not isinstance(body, dict):
        return empty, None, {"": ["Send the order form as a JSON object."]}

    def optional_id(name: str) -> int | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        number = _id(value)
        if number is None:
            problems[name] = ["Give a record id (a whole number)."]
        return number

    order_id = optional_id("order_id")
    customer_id = optional_id("customer_id")
    shipping_method_id = optional_id("shipping_method_id")
    code = body.get("coupon_code")
    if code is not None and not isinstance(code, str):
        problems["coupon_code"] = ["Give the code as text."]
        code = None
    elif code is not None and len(code.strip()) > 40:
        problems["coupon_code"] = ["A code is at most 40 characters long."]
    raw_lines = body.get("lines", [])
    lines: list[order_service.DraftLine] = []
    if not isinstance(raw_lines, list) or len(raw_lines) > MAX_PREVIEW_LINES:
        problems["lines"] = [f"Give the lines as a list of at most {MAX_PREVIEW_LINES}."]
        raw_lines = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            problems[f"lines-{index}"] = ["Give each line as an object."]
            continue
        product_id = _id(raw.get("product_id"))
        quantity = raw.get("quantity")
        line_id = raw.get("line_id")
        if product_id is None:
            problems[f"lines-{index}-product"] = [gettext("Choose a product.")]
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            problems[f"lines-{index}-quantity"] = [gettext("Enter a quantity (a whole number).")]
        elif not 1 <= quantity <= MAX_QUANTITY:
            problems[f"lines-{index}-quantity"] = [quantity_range_message()]
        if line_id is not None and _id(line_id) is None:
            problems[f"lines-{index}-id"] = [gettext("Give the line's id (a whole number).")]
        if product_id is not None and isinstance(quantity, int):
            lines.append(
                order_service.DraftLine(product_id, quantity, _id(line_id) if line_id else None)
            )
    draft = order_service.OrderDraft(
        lines=tuple(lines),
        customer_id=customer_id,
        coupon_code=code,
        shipping_method_id=shipping_method_id,
    )
    return draft, order_id, problems


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
    queue_keys = True
    # Every order listed here is pending: "Mark delivered" could never apply, and there
    # is nothing to pack yet.
    action_disallowed_list = ["deliver", "packing_slips"]
    # Orders are previewed and saved, and their documents downloaded, under Orders.
    endpoint_permissions = {
        **OrderAdmin.endpoint_permissions,
        "preview": None,
        "invoice_pdf": None,
        "credit_note_pdf": None,
        "packing_slip": None,
    }

    def get_query(self):
        return super().get_query().filter(Order.status == OrderStatus.PENDING.value)

    def get_count_query(self):
        return super().get_count_query().filter(Order.status == OrderStatus.PENDING.value)
