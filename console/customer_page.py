"""The customer's order page: the link in every order e-mail, with no sign-in.

``/order-status/<token>`` shows one order, read-only: status, lines, totals, addresses
and tracking number. The signed token (``console.services.order_links``) is what admits
the visitor; a tampered, expired or dead link answers the ordinary 404 page, with no hint
of which. A pending order has a cancel button: a POST with a CSRF token bound to the
visitor's session cookie (Flask-WTF), handled by the workflow service like a staff
member's cancel, the audit trail naming ``customer <email>``.

The blueprint is public (``PUBLIC_BLUEPRINTS``) and rate limited per client address
(``ORDER_PAGE_RATE_LIMIT``); the page runs no script and sends no referrer, since its
address is a credential.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale, gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import SubmitField

from console.database import db
from console.i18n import recipient_locale
from console.models import Order
from console.security.limits import ORDER_PAGE_LIMIT
from console.services import order_links, workflow
from console.services.errors import DomainError

bp = Blueprint("customer_page", __name__)


class CancelOrderForm(FlaskForm):
    """Only the CSRF token and the button: the link names the order."""

    submit = SubmitField(lazy_gettext("Cancel this order"))


def _order_or_404(token: str) -> Order:
    order = order_links.order_from(db.session(), token)
    if order is None:
        abort(404)
    return order


@bp.after_request
def no_referrer(response):
    """The page's address is a credential: never send it on as a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/order-status/<token>")
@ORDER_PAGE_LIMIT
def show(token: str):
    """The order's page, in the customer's language (else the shop's), as their e-mails."""
    order = _order_or_404(token)
    with force_locale(recipient_locale(order.customer)):
        return render_template(
            "customer/order.html",
            order=order,
            token=token,
            form=CancelOrderForm(),
            currency=current_app.config["CONSOLE_CURRENCY"],
            shop_name=current_app.config["SHOP_NAME"],
        )


@bp.post("/order-status/<token>/cancel")
@ORDER_PAGE_LIMIT
def cancel(token: str):
    """Cancel the pending order the link names, then show its page again."""
    order = _order_or_404(token)
    form = CancelOrderForm()
    with force_locale(recipient_locale(order.customer)):
        if form.validate_on_submit():
            try:
                workflow.cancel_by_customer(db.session(), order.id, order.customer.email)
            except DomainError as refused:
                flash(refused.message, "error")
            else:
                flash(
                    gettext("Your order is cancelled. We have sent you an e-mail about it."),
                    "success",
                )
    return redirect(url_for(".show", token=token), 303)
