"""List and detail formatters shared by the model views."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from console import localtime
from console.i18n import format_money
from console.models.base import label_of
from console.models.orders import OrderStatus
from console.models.outbox import delivery_label


def vocabulary_formatter(vocabulary: type[enum.Enum]) -> Callable[..., str]:
    """A column formatter showing a stored value of ``vocabulary`` by its label, in the
    reader's language (exports read the column itself and keep the stored value)."""

    def formatter(view: Any, context: Any, model: Any, name: str) -> str:
        return label_of(vocabulary, getattr(model, name))

    return formatter


def money_formatter(view: Any, context: Any, model: Any, name: str) -> str:
    return format_money(getattr(model, name))


def datetime_formatter(view: Any, context: Any, model: Any, name: str) -> str:
    """A time of the record in the person's zone (the page's footer names it)."""
    return localtime.show(getattr(model, name), zone_name=False)


def record_link(view: Any, endpoint: str, record_id: int, text: str) -> Markup:
    """A link to a record's page, ``text`` escaped. The address comes through the view:
    a list builds it once for all its rows (``SecuredModelView.get_url``). Escaped by
    hand rather than by ``Markup.format``, whose formatting machinery cost more than
    the rest of a list's cell."""
    href = view.get_url(endpoint, id=record_id)
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def customer_link_formatter(view: Any, context: Any, model: Any, name: str) -> Markup | str:
    customer = model.customer
    if customer is None:
        return ""
    text = f"{customer.full_name} <{customer.email}>"
    return record_link(view, "customer.details_view", customer.id, text)


def order_lines_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """The order's lines as a small table, as they were when added (their snapshots)."""
    rows = [
        Markup(
            "<tr><td>{}</td><td>{}</td><td class='text-right'>{}</td>"
            "<td class='text-right'>{}</td><td class='text-right'>{}</td>"
            "<td class='text-right'>{}</td></tr>"
        ).format(
            line.sku,
            line.name,
            line.quantity,
            format_money(line.unit_price),
            f"{line.tax_rate:.2f} %",
            format_money(line.line_total),
        )
        for line in model.lines
    ]
    head = Markup(
        "<table class='table table-sm mb-0 order-lines'><thead><tr><th>SKU</th><th>Product</th>"
        "<th class='text-right'>Qty</th><th class='text-right'>Unit price</th>"
        "<th class='text-right'>Tax rate</th><th class='text-right'>Line total</th></tr>"
        "</thead><tbody>"
    )
    foot = Markup(
        "</tbody><tfoot><tr><th colspan='5' class='text-right'>Subtotal</th>"
        "<th class='text-right'>{}</th></tr></tfoot></table>"
    ).format(format_money(model.subtotal))
    return head + Markup("").join(rows) + foot


def order_lines_text(view: Any, context: Any, model: Any, name: str) -> str:
    """The order's lines on one line of text: ``KET-1 × 2 @ 39.90; LAMP-1 × 1 @ 12.35``."""
    return "; ".join(f"{line.sku} × {line.quantity} @ {line.unit_price}" for line in model.lines)


def tax_label(order: Any, tax: Any) -> str:
    """``Standard 20.00 %`` (``included`` when the order's prices included tax)."""
    kind = " included" if order.prices_include_tax else ""
    return f"{tax.name} {tax.rate:.2f} %{kind}"


def tax_lines_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """The order's tax by rate: the amount taxed (without tax) and the tax."""
    if not model.tax_lines:
        return Markup("")
    rows = [
        Markup(
            "<tr><td>{}</td><td class='text-right'>{}</td><td class='text-right'>{}</td></tr>"
        ).format(tax_label(model, tax), format_money(tax.base), format_money(tax.tax))
        for tax in model.tax_lines
    ]
    head = Markup(
        "<table class='table table-sm mb-0 order-taxes'><thead><tr><th>Rate</th>"
        "<th class='text-right'>Taxed amount</th><th class='text-right'>Tax</th></tr>"
        "</thead><tbody>"
    )
    return head + Markup("").join(rows) + Markup("</tbody></table>")


def tax_lines_text(view: Any, context: Any, model: Any, name: str) -> str:
    """The order's tax by rate on one line: ``20.00 % on 100.00: 20.00; 0.00 % on 4.90: 0.00``."""
    included = " included" if model.prices_include_tax else ""
    return "; ".join(
        f"{tax.rate:.2f} % on {tax.base}: {tax.tax}{included}" for tax in model.tax_lines
    )


def badge(kind: str, state: str, word: str) -> Markup:
    """``state`` of a ``kind`` of thing (an order's status, an e-mail's delivery, a job,
    an invitation) as a coloured badge with its ``word``: the classes ``{kind}-badge``
    and ``{kind}-{state}`` pick the colour in console.css, the word is always written."""
    kind, state, word = escape(kind), escape(state), escape(word)  # see record_link
    return Markup(f'<span class="badge {kind}-badge {kind}-{state}">{word}</span>')


def status_badge(status: str | None) -> Markup:
    """An order's status as a coloured badge with its word in the reader's language
    (colours in console.css)."""
    if not status:
        return Markup("")
    return badge("status", status, label_of(OrderStatus, status))


def status_badge_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    return status_badge(getattr(model, name))


def delivery_badge(state: str | None) -> Markup:
    """A delivery's state (queued, sending, sent, retrying, failed: an e-mail's, a
    webhook's) as a badge with its word in the reader's language."""
    if not state:
        return Markup("")
    return badge("delivery", state, delivery_label(state))
