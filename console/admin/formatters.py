"""List and detail formatters shared by the model views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup


def format_money(value: Decimal | None) -> str:
    """``1234.5`` -> ``"1,234.50 EUR"`` in the configured currency."""
    if value is None:
        return ""
    return f"{Decimal(value):,.2f} {current_app.config['CONSOLE_CURRENCY']}"


def money_formatter(view: Any, context: Any, model: Any, name: str) -> str:
    return format_money(getattr(model, name))


def datetime_formatter(view: Any, context: Any, model: Any, name: str) -> str:
    value = getattr(model, name)
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def customer_link_formatter(view: Any, context: Any, model: Any, name: str) -> Markup | str:
    customer = model.customer
    if customer is None:
        return ""
    href = url_for("customer.details_view", id=customer.id)
    return Markup('<a href="{}">{}</a>').format(href, f"{customer.full_name} <{customer.email}>")


def order_lines_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """The order's lines as a small table with their totals."""
    rows = [
        Markup(
            "<tr><td>{}</td><td>{}</td><td class='text-right'>{}</td>"
            "<td class='text-right'>{}</td><td class='text-right'>{}</td></tr>"
        ).format(
            line.product.sku,
            line.product.name,
            line.quantity,
            format_money(line.unit_price),
            format_money(line.line_total),
        )
        for line in model.lines
    ]
    head = Markup(
        "<table class='table table-sm mb-0'><thead><tr><th>SKU</th><th>Product</th>"
        "<th class='text-right'>Qty</th><th class='text-right'>Unit price</th>"
        "<th class='text-right'>Line total</th></tr></thead><tbody>"
    )
    foot = Markup(
        "</tbody><tfoot><tr><th colspan='4' class='text-right'>Total</th>"
        "<th class='text-right'>{}</th></tr></tfoot></table>"
    ).format(format_money(model.total))
    return head + Markup("").join(rows) + foot


def order_lines_text(view: Any, context: Any, model: Any, name: str) -> str:
    """The order's lines on one line of text: ``KET-1 × 2 @ 39.90; LAMP-1 × 1 @ 12.35``."""
    return "; ".join(
        f"{line.product.sku} × {line.quantity} @ {line.unit_price}" for line in model.lines
    )


def status_badge(status: str | None) -> Markup:
    """An order's status as a coloured badge with its word (colours in console.css)."""
    if not status:
        return Markup("")
    return Markup('<span class="badge status-badge status-{}">{}</span>').format(
        status, status.capitalize()
    )


def status_badge_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    return status_badge(getattr(model, name))


def delivery_badge(state: str | None) -> Markup:
    """An e-mail's delivery state (queued, sending, sent, retrying, failed) as a badge."""
    if not state:
        return Markup("")
    return Markup('<span class="badge delivery-badge delivery-{}">{}</span>').format(
        state, state.capitalize()
    )
