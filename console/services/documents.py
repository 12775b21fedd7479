"""Invoices, credit notes and packing slips (docs/documents.md).

Numbering. ``allocate_number`` gives the next number of a series in the year of the
issue date, inside the caller's transaction, with one statement:
``INSERT INTO document_counter ... ON CONFLICT (series, year) DO UPDATE SET
last_number = last_number + 1 RETURNING last_number``. The first document of a year
creates the row; any later one increments it and holds the row's lock until its
transaction ends, so two transactions never get the same number (on PostgreSQL the
second waits for the first; on SQLite writers are serialised anyway). A transaction
that rolls back rolls its increment back too: the number is given to the next
document, and the series has no gap.

Invoices and credit notes are issued inside the transaction of the change they
belong to (the shipment, a refund), store what they show as values
(``content``) and their PDF, and are never changed after (``console.models.documents``).
Packing slips are printed on demand and not kept: they show nothing that changes
after shipping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from console import audit
from console.audit.capture import ACTING_KEY
from console.i18n import format_money
from console.models import (
    CreditNote,
    DocumentCounter,
    DocumentSeries,
    Invoice,
    Order,
    OrderLine,
    OrderStatus,
    PostalAddress,
    User,
)
from console.models.base import utcnow, word_of
from console.models.documents import document_number
from console.permissions import ORDERS_APPROVE
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.pdf import render_pdf
from console.services.pricing import (
    ZERO,
    PricingRules,
    added_tax,
    cents,
    included_tax,
    money_text,
)

INVOICED_ON = {"shipped": OrderStatus.SHIPPED, "approved": OrderStatus.APPROVED}
"""``INVOICE_ON`` -> the status whose transition issues an order's invoice."""

MAX_REASON_LENGTH = 2000
MAX_PACKING_SLIPS = 500
"""Orders one bulk packing-slip PDF takes (a print run, not an export)."""


# --- numbering ------------------------------------------------------------------------


def issue_year(moment: dt.datetime) -> int:
    """The year a document issued at ``moment`` (naive UTC) is numbered in.

    The shop's calendar is UTC for now; a shop time zone would convert here.
    """
    return moment.year


def allocate_number(session: Session, series: DocumentSeries, moment: dt.datetime) -> str:
    """The next number of ``series`` in ``moment``'s year, taken in ``session``'s
    transaction (given back if it rolls back)."""
    year = issue_year(moment)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(DocumentCounter).values(series=series.value, year=year, last_number=1)
    statement = upsert.on_conflict_do_update(
        index_elements=[DocumentCounter.series, DocumentCounter.year],
        set_={"last_number": DocumentCounter.last_number + 1},
    ).returning(DocumentCounter.last_number)
    sequence = session.execute(statement).scalar_one()
    return document_number(series.value, year, sequence)


# --- what documents show ----------------------------------------------------------------


def amount(value: Decimal) -> str:
    """A stored amount: ``Decimal("1234.5")`` -> ``"1234.50"`` (exact, no float)."""
    return f"{Decimal(value):.2f}"


def seller() -> dict[str, Any]:
    """The seller's details from the settings, as printed now."""
    config = current_app.config
    address = config.get("SELLER_ADDRESS") or ""
    lines = [part.strip() for part in address.replace("\n", ";").split(";") if part.strip()]
    return {
        "name": config.get("SELLER_NAME") or config["SHOP_NAME"],
        "address": lines,
        "vat_id": config.get("SELLER_VAT_ID") or "",
        "email": config.get("SELLER_EMAIL") or "",
    }


def _addresses(order: Order) -> dict[str, list[str]]:
    def lines(address: PostalAddress | None) -> list[str]:
        return address.lines() if address is not None else []

    return {
        "billing_address": lines(order.billing_address),
        "shipping_address": lines(order.shipping_address),
    }


def _header(order: Order, number: str, issued_at: dt.datetime) -> dict[str, Any]:
    customer = order.customer
    return {
        "number": number,
        "issued_on": issued_at.date().isoformat(),
        "order_number": order.number,
        "order_date": (order.placed_at or order.created_at).date().isoformat(),
        "currency": current_app.config["CONSOLE_CURRENCY"],
        "seller": seller(),
        "customer": {
            "name": f"{customer.first_name} {customer.last_name}",
            "email": customer.email,
        },
        "prices_include_tax": order.prices_include_tax,
        **_addresses(order),
    }


def invoice_content(order: Order, number: str, issued_at: dt.datetime) -> dict[str, Any]:
    """What ``order``'s invoice shows: its figures exactly as the order stores them."""
    return {
        **_header(order, number, issued_at),
        "tracking_number": order.tracking_number,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": amount(line.unit_price),
                "tax_rate": amount(line.tax_rate),
                "line_total": amount(line.line_total),
            }
            for line in order.lines
        ],
        "subtotal": amount(order.subtotal),
        "discount_total": amount(order.discount_total),
        "coupon_code": order.coupon_code,
        "shipping_total": amount(order.shipping_total),
        "shipping_method_name": order.shipping_method_name,
        "taxes": [
            {"name": t.name, "rate": amount(t.rate), "base": amount(t.base), "tax": amount(t.tax)}
            for t in order.tax_lines
        ],
        "tax_total": amount(order.tax_total),
        "total": amount(order.total),
    }


def _acting(session: Session, actor: User | None) -> AbstractContextManager[None]:
    """Record the document's creation as ``actor``'s, unless the caller already says
    who acts (a refund's transaction, an import)."""
    if actor is None or ACTING_KEY in session.info:
        return nullcontext()
    return audit.acting(session, actor)


def _render(template: str, content: dict[str, Any]) -> bytes:
    currency = content["currency"]

    def money(value: str | Decimal) -> str:
        # As the order's page writes amounts (console.admin.formatters.format_money).
        return f"{money_text(Decimal(value))} {currency}"

    return render_pdf(template, {"doc": content, "money": money})


# --- invoices ----------------------------------------------------------------------------


def invoice_due_on(status: str) -> bool:
    """Whether the transition to ``status`` issues the order's invoice (``INVOICE_ON``)."""
    return INVOICED_ON[current_app.config["INVOICE_ON"]].value == status


def invoice_of(session: Session, order_id: int) -> Invoice | None:
    """``order_id``'s invoice, or None."""
    return session.scalars(select(Invoice).where(Invoice.order_id == order_id)).first()


def issue_invoice(session: Session, order: Order, actor: User | None) -> Invoice:
    """Issue ``order``'s invoice in the caller's transaction (which commits it).

    An order has one invoice: asking again gives the one issued.
    """
    existing = invoice_of(session, order.id)
    if existing is not None:
        return existing
    issued_at = utcnow()
    number = allocate_number(session, DocumentSeries.INVOICE, issued_at)
    content = invoice_content(order, number, issued_at)
    invoice = Invoice(
        number=number,
        order=order,
        issued_at=issued_at,
        issued_by=actor,
        currency=content["currency"],
        total=order.total,
        content=content,
        pdf=_render("invoice", content),
    )
    with _acting(session, actor):
        session.add(invoice)
        session.flush()
    return invoice


# --- credit notes ------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditLine:
    """Part of an order line credited: how many units and the amount for them.

    ``amount`` is in the order's terms: without tax when its prices are without tax
    (the tax is added as on the order), with tax included otherwise. A refund computes
    it (the line's price less its share of the discount); it is at most the line's total.
    """

    order_line_id: int
    quantity: int
    amount: Decimal
    tax: Decimal | None = None
    """The tax of ``amount`` when the caller knows it (a refund's share of the tax the
    order charged for the line); None: computed from ``amount`` at the line's rate."""


def parse_amount(value: Any, what: str) -> Decimal:
    """``value`` as an amount of money (finite, not negative, at most two decimals);
    ``DomainError`` naming ``what`` otherwise."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DomainError(gettext("%(what)s must be an amount such as 12.50.", what=what)) from None
    if not number.is_finite():
        raise DomainError(gettext("%(what)s must be an amount such as 12.50.", what=what))
    if number < 0:
        raise DomainError(gettext("%(what)s cannot be negative.", what=what))
    if number != cents(number):
        raise DomainError(
            gettext("%(what)s has more than two decimals: %(number)s.", what=what, number=number)
        )
    return number


Credited = list[tuple[OrderLine, int, Decimal, Decimal | None]]
"""(order line, units credited, amount credited, its tax if given) per line."""


def _credited_lines(order: Order, lines: Sequence[CreditLine]) -> Credited:
    """The credited lines checked against ``order``'s: each once, within its units and
    total."""
    by_id = {line.id: line for line in order.lines}
    credited: Credited = []
    seen: set[int] = set()
    for credit in lines:
        line = by_id.get(credit.order_line_id)
        if line is None:
            raise DomainError(
                gettext(
                    "Order %(number)s has no line %(order_line_id)s.",
                    number=order.number,
                    order_line_id=credit.order_line_id,
                )
            )
        if line.id in seen:
            raise DomainError(
                gettext("%(sku)s is credited twice; give each line once.", sku=line.sku)
            )
        seen.add(line.id)
        if not 1 <= credit.quantity <= line.quantity:
            raise DomainError(
                gettext(
                    "%(sku)s: credit between 1 and the %(quantity)s ordered, not %(quantity2)s.",
                    sku=line.sku,
                    quantity=line.quantity,
                    quantity2=credit.quantity,
                )
            )
        value = parse_amount(credit.amount, f"The amount credited for {line.sku}")
        if value > line.line_total:
            raise DomainError(
                gettext(
                    "%(sku)s: %(money_text)s is more than the line's total of %(money_text2)s.",
                    sku=line.sku,
                    money_text=format_money(value),
                    money_text2=format_money(line.line_total),
                )
            )
        tax = None
        if credit.tax is not None:
            tax = parse_amount(credit.tax, f"The tax credited for {line.sku}")
            if order.prices_include_tax and tax > value:
                raise DomainError(f"{line.sku}: the tax credited is more than the amount.")
        credited.append((line, credit.quantity, value, tax))
    return credited


def credit_note_content(
    order: Order,
    invoice: Invoice | None,
    number: str,
    issued_at: dt.datetime,
    credited: Credited,
    shipping: Decimal,
    reason: str,
) -> dict[str, Any]:
    """What a credit note shows; its tax is computed per line and per rate as an
    order's is (``console.services.pricing``), on the amounts credited."""
    inclusive = order.prices_include_tax
    rules = PricingRules.from_config(current_app.config)
    by_rate: dict[Decimal, dict[str, Any]] = {}

    def add(rate: Decimal, name: str, value: Decimal, given: Decimal | None = None) -> None:
        if given is not None:
            tax = given
        else:
            tax = included_tax(value, rate) if inclusive else added_tax(value, rate)
        group = by_rate.setdefault(rate, {"name": name, "base": ZERO, "tax": ZERO})
        group["base"] += value - tax if inclusive else value
        group["tax"] += tax

    for line, _quantity, value, given in credited:
        add(line.tax_rate, line.tax_name, value, given)
    if shipping:
        rate = rules.shipping_rate_of(order.shipping_tax_rate)
        add(rate, by_rate[rate]["name"] if rate in by_rate else rules.shipping_tax_name, shipping)
    tax_total = sum((group["tax"] for group in by_rate.values()), ZERO)
    total = sum((value for _line, _q, value, _tax in credited), ZERO) + shipping
    if not inclusive:
        total += tax_total
    return {
        **_header(order, number, issued_at),
        "invoice_number": invoice.number if invoice is not None else None,
        "reason": reason,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": quantity,
                "tax_rate": amount(line.tax_rate),
                "amount": amount(value),
            }
            for line, quantity, value, _tax in credited
        ],
        "shipping_total": amount(shipping),
        "taxes": [
            {
                "name": group["name"],
                "rate": amount(rate),
                "base": amount(group["base"]),
                "tax": amount(group["tax"]),
            }
            for rate, group in sorted(by_rate.items())
        ],
        "tax_total": amount(tax_total),
        "total": amount(total),
    }


def issue_credit_note(
    session: Session,
    order: Order | int,
    actor: User,
    lines: Sequence[CreditLine],
    *,
    shipping: Decimal | str | None = None,
    reason: str,
) -> CreditNote:
    """Issue a numbered credit note for ``order`` in the caller's transaction.

    Refunds call it with what they give back: lines (units and amounts) and,
    optionally, shipping (at most what the order charged). Needs ``orders.approve``
    (refunds are approved with it). Raises ``DomainError`` on bad input; nothing is
    written then.
    """
    if actor is None or not actor.active or not actor.has_permission(ORDERS_APPROVE):
        raise DomainError(
            gettext(
                "Your role does not allow issuing credit notes (it needs %(orders_approve)s).",
                orders_approve=ORDERS_APPROVE,
            )
        )
    order_id = order.id if isinstance(order, Order) else row_id(order)
    loaded = None if order_id is None else session.get(Order, order_id)
    if loaded is None:
        raise DomainError(gettext("This order does not exist (any more)."))
    if loaded.status in UNDOCUMENTED:
        raise DomainError(
            gettext(
                "Order %(number)s is %(status)s: it was never approved, so there is nothing to "
                "credit.",
                number=loaded.number,
                status=word_of(OrderStatus, loaded.status),
            )
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(gettext("Give the reason for the credit note; the customer reads it."))
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(
            gettext(
                "The reason is too long (at most %(max_reason_length)s characters).",
                max_reason_length=MAX_REASON_LENGTH,
            )
        )
    credited = _credited_lines(loaded, lines)
    shipped_back = (
        ZERO if shipping in (None, "") else parse_amount(shipping, "The shipping credited")
    )
    if shipped_back > loaded.shipping_total:
        raise DomainError(
            gettext(
                "%(money_text)s of shipping is more than the %(money_text2)s order %(number)s "
                "charged.",
                money_text=format_money(shipped_back),
                money_text2=format_money(loaded.shipping_total),
                number=loaded.number,
            )
        )
    if not credited and not shipped_back:
        raise DomainError(gettext("A credit note needs at least one line or a shipping amount."))
    invoice = invoice_of(session, loaded.id)
    issued_at = utcnow()
    number = allocate_number(session, DocumentSeries.CREDIT_NOTE, issued_at)
    content = credit_note_content(
        loaded, invoice, number, issued_at, credited, shipped_back, reason
    )
    note = CreditNote(
        number=number,
        order=loaded,
        invoice=invoice,
        reason=reason,
        issued_at=issued_at,
        issued_by=actor,
        currency=content["currency"],
        total=Decimal(content["total"]),
        content=content,
        pdf=_render("credit_note", content),
    )
    with _acting(session, actor):
        session.add(note)
        session.flush()
    return note


@dataclass(frozen=True)
class IssuedDocument:
    """An issued document as an order's page lists it."""

    kind: str
    """``invoice`` or ``credit_note``."""
    id: int
    number: str


UNDOCUMENTED = frozenset({OrderStatus.PENDING.value, OrderStatus.REJECTED.value})
"""Statuses of orders that were never approved: nothing was invoiced or credited."""


def documents_of(session: Session, order: Order) -> list[IssuedDocument]:
    """``order``'s invoice, then its credit notes in the order issued (one query; none
    for an order that was never approved)."""
    if order.status in UNDOCUMENTED:
        return []
    invoices = select(literal("invoice").label("kind"), Invoice.id, Invoice.number).where(
        Invoice.order_id == order.id
    )
    notes = select(literal("credit_note").label("kind"), CreditNote.id, CreditNote.number).where(
        CreditNote.order_id == order.id
    )
    both = union_all(invoices, notes).subquery()
    rows = session.execute(
        select(both.c.kind, both.c.id, both.c.number).order_by(both.c.kind.desc(), both.c.id)
    )
    return [IssuedDocument(kind, id_, number) for kind, id_, number in rows]


# --- packing slips -----------------------------------------------------------------------


def packing_slips(session: Session, order_ids: Sequence[int]) -> bytes:
    """One PDF with a packing slip per order (one page each, in the order given):
    order number, both addresses, lines and quantities; no prices."""
    if not order_ids:
        raise DomainError(gettext("Select the orders to print packing slips for."))
    if any(row_id(order_id) is None for order_id in order_ids):
        raise DomainError(gettext("Some of the selected rows are not orders; nothing printed."))
    if len(order_ids) > MAX_PACKING_SLIPS:
        raise DomainError(
            gettext(
                "Print at most %(max_packing_slips)s packing slips at a time.",
                max_packing_slips=MAX_PACKING_SLIPS,
            )
        )
    found = {
        order.id: order
        for order in session.scalars(
            select(Order)
            .where(Order.id.in_(order_ids))
            .options(selectinload(Order.lines), selectinload(Order.customer))
        )
    }
    missing = [str(order_id) for order_id in order_ids if order_id not in found]
    if missing:
        raise DomainError(
            gettext("No order with the id %(join)s; nothing printed.", join=", ".join(missing[:10]))
        )
    slips = [
        {
            "order_number": order.number,
            "order_date": (order.placed_at or order.created_at).date().isoformat(),
            "customer": f"{order.customer.first_name} {order.customer.last_name}",
            "shipping_method_name": order.shipping_method_name,
            "tracking_number": order.tracking_number,
            **_addresses(order),
            "lines": [
                {"sku": line.sku, "name": line.name, "quantity": line.quantity}
                for line in order.lines
            ],
        }
        for order in (found[order_id] for order_id in dict.fromkeys(order_ids))
    ]
    return render_pdf("packing_slips", {"slips": slips, "seller": seller()})
