"""Order rules: lines, prices and totals, computed on the server.

``prepare_order`` is called inside the transaction that saves an order (from the
console's order form or from the seed), before it is committed; ``preview`` shows the
order form what that save would store. Both price through ``price``, which looks up
the promotion and shipping method and hands everything to ``pricing.quote``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, inspect, or_, select
from sqlalchemy.orm import Session, joinedload

from console.models import (
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    OrderTaxLine,
    Product,
    Promotion,
    PromotionCustomerUse,
    ShippingMethod,
    User,
)
from console.models.addresses import ORDER_ADDRESS_COLUMNS, PostalAddress
from console.models.base import utcnow
from console.permissions import ORDERS_WRITE
from console.services import pricing, promotions
from console.services.addresses import fill_missing_addresses
from console.services.errors import DomainError, PricingRefused
from console.services.ids import row_id
from console.services.notifications import enqueue_order_email
from console.services.webhooks import enqueue_order_event

CENT = Decimal("0.01")


def order_number(order_id: int) -> str:
    """The human-readable number of an order, derived from its id."""
    return f"SO-{order_id:06d}"


def compute_total(lines: list[OrderLine]) -> Decimal:
    """The sum of quantity × unit price of ``lines`` (an order's subtotal)."""
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    return Decimal(total).quantize(CENT)


def _line_is_new_or_changed_product(line: OrderLine) -> bool:
    state = inspect(line)
    if state.transient or state.pending:
        return True
    return state.attrs.product.history.has_changes()


def _content_changed(session: Session, order: Order) -> bool:
    """True when this save changes ``order``'s customer, addresses, lines or total.

    Read from the attributes' history before the flush: a value set back to what it
    was counts as no change; a coupon code counts only through the total it changes.
    """
    state = inspect(order)
    for name in ("customer", "customer_id", "total", *ORDER_ADDRESS_COLUMNS):
        if state.attrs[name].history.has_changes():
            return True
    history = state.attrs.lines.history
    if history.added or history.deleted:
        return True
    for line in order.lines:
        if line in session.deleted:
            return True
        line_state = inspect(line)
        if line_state.transient or line_state.pending:
            return True
        if any(
            line_state.attrs[name].history.has_changes()
            for name in ("product", "product_id", "quantity")
        ):
            return True
    return False


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).quantize(CENT)}"


def _text(value: str | None) -> str | None:
    """Text as the customer reads it: surrounding spaces and empty text count as nothing."""
    return (value.strip() or None) if isinstance(value, str) else value


_FIGURES = ("subtotal", "discount_total", "shipping_total", "tax_total", "total")


def told_customer(order: Order, *, stored: bool = False) -> tuple[Any, ...]:
    """What the customer's e-mails say of ``order``: its customer, lines (snapshots and
    quantities), both addresses, code, shipping method, figures and tax per rate.

    ``stored`` reads the values as the database has them before this save's changes
    (the attributes' history), else as they are now. Equal results told the customer
    the same thing; lines are compared as a set, so their order is no change.
    """
    value = _stored if stored else getattr

    def kept(collection: str) -> list[Any]:
        history = inspect(order).attrs[collection].history
        if stored and history.has_changes():
            return [*history.unchanged, *history.deleted]
        return list(getattr(order, collection))

    def new(item: Any) -> bool:
        return inspect(item).pending or inspect(item).transient

    lines = sorted(
        repr(
            (
                _text(value(line, "sku")),
                _text(value(line, "name")),
                value(line, "quantity"),
                _money(value(line, "unit_price")),
                _money(value(line, "tax_rate")),
                _text(value(line, "tax_name")),
            )
        )
        for line in kept("lines")
        if not new(line)
    )
    taxes = sorted(
        repr(
            (
                _money(value(tax, "rate")),
                _text(value(tax, "name")),
                _money(value(tax, "base")),
                _money(value(tax, "tax")),
            )
        )
        for tax in kept("tax_lines")
        if not new(tax)
    )
    return (
        value(order, "customer_id"),
        tuple(lines),
        tuple(_text(value(order, name)) for name in ORDER_ADDRESS_COLUMNS),
        _text(value(order, "coupon_code")),
        value(order, "shipping_method_id"),
        tuple(_money(value(order, name)) for name in _FIGURES),
        bool(value(order, "prices_include_tax")),
        tuple(taxes),
    )


def note_editor(order: Order, actor: User) -> None:
    """Remember that ``actor`` changed ``order`` after it was taken (four-eyes rule)."""
    if actor.id != order.created_by_id and actor not in order.edited_by:
        order.edited_by.append(actor)


# --- pricing: one path for the preview and the save ----------------------------------


@dataclass(frozen=True)
class Held:
    """What an order holds as stored: its promotion's use (for which customer), its
    shipping method and its coupon text. Nothing for an order not saved yet."""

    promotion_id: int | None = None
    customer_id: int | None = None
    shipping_method_id: int | None = None
    coupon_code: str | None = None

    @classmethod
    def of(cls, order: Order | None) -> Held:
        if order is None or inspect(order).transient or inspect(order).pending:
            return cls()
        return cls(
            promotion_id=_stored(order, "promotion_id"),
            customer_id=_stored(order, "customer_id"),
            shipping_method_id=_stored(order, "shipping_method_id"),
            coupon_code=_stored(order, "coupon_code"),
        )

    def keeps_legacy_code(self, code: str | None) -> bool:
        """True for a code recorded before promotions existed, kept as it was: it stays
        recorded as text and takes nothing off (it never did)."""
        return (
            self.promotion_id is None
            and code is not None
            and self.coupon_code is not None
            and code.strip() == self.coupon_code.strip()
        )


def _stored(record: Any, name: str) -> Any:
    """The value of column ``name`` as the database has it, before this save's changes."""
    history = inspect(record).attrs[name].history
    if history.has_changes():
        return history.deleted[0] if history.deleted else None
    return getattr(record, name)


def pricing_rules() -> pricing.PricingRules:
    """The shop's pricing settings (``SHOP_PRICES_INCLUDE_TAX``, ``SHOP_SHIPPING_TAX_RATE``)."""
    return pricing.PricingRules.from_config(current_app.config)


def line_input(line: OrderLine, *, kept: bool) -> pricing.LineInput:
    """A stored or new line as priced: its snapshot, its product's stock and state."""
    product = line.product
    return pricing.LineInput(
        sku=line.sku,
        name=line.name,
        unit_price=line.unit_price,
        tax_rate=line.tax_rate,
        tax_name=line.tax_name,
        quantity=line.quantity,
        product_id=product.id,
        stock=product.stock,
        active=product.active,
        kept=kept,
    )


def product_input(product: Product, quantity: int) -> pricing.LineInput:
    """A line about to be added with ``product``: the product as it is now."""
    return pricing.LineInput(
        sku=product.sku,
        name=product.name,
        unit_price=product.unit_price,
        tax_rate=product.tax_rate.rate,
        tax_name=product.tax_rate.name,
        quantity=quantity,
        product_id=product.id,
        stock=product.stock,
        active=product.active,
    )


def find_promotion(session: Session, code: str) -> Promotion | None:
    """The promotion whose code is ``code``, ignoring case (and surrounding spaces)."""
    return session.scalar(
        select(Promotion).where(func.lower(Promotion.code) == code.strip().lower())
    )


def _promotion_input(
    session: Session, promotion: Promotion, customer_id: int | None, held: Held
) -> pricing.PromotionInput:
    holds = held.promotion_id == promotion.id
    holds_for_customer = holds and customer_id is not None and held.customer_id == customer_id
    customer_uses = 0
    if customer_id is not None:
        customer_uses = (
            session.scalar(
                select(PromotionCustomerUse.times_used).where(
                    PromotionCustomerUse.promotion_id == promotion.id,
                    PromotionCustomerUse.customer_id == customer_id,
                )
            )
            or 0
        )
    return pricing.PromotionInput(
        code=promotion.code,
        kind=promotion.kind,
        value=promotion.value,
        id=promotion.id,
        active=promotion.active,
        valid_from=promotion.valid_from,
        valid_until=promotion.valid_until,
        minimum_subtotal=promotion.minimum_subtotal,
        usage_limit=promotion.usage_limit,
        per_customer_limit=promotion.per_customer_limit,
        times_used=max(promotion.times_used - (1 if holds else 0), 0),
        customer_uses=max(customer_uses - (1 if holds_for_customer else 0), 0),
        held=holds,
        held_by_customer=holds_for_customer,
    )


def price(
    session: Session,
    lines: Sequence[pricing.LineInput],
    *,
    code: str | None,
    customer_id: int | None,
    shipping_method: ShippingMethod | None,
    held: Held,
    now: dt.datetime | None = None,
) -> tuple[pricing.Quote, Promotion | None]:
    """Quote an order (``pricing.quote``) with the promotion and shipping method looked
    up as they are now; the preview and the save both come through here."""
    legacy = held.keeps_legacy_code(code)
    promotion = None
    promotion_terms = None
    if code and code.strip() and not legacy:
        promotion = find_promotion(session, code)
        if promotion is not None:
            promotion_terms = _promotion_input(session, promotion, customer_id, held)
    shipping = None
    if shipping_method is not None:
        shipping = pricing.ShippingInput(
            name=shipping_method.name,
            price=shipping_method.price,
            free_above=shipping_method.free_above,
            id=shipping_method.id,
            active=shipping_method.active,
            held=shipping_method.id == held.shipping_method_id,
        )
    quote = pricing.quote(
        lines,
        code=None if legacy else code,
        promotion=promotion_terms,
        shipping=shipping,
        rules=pricing_rules(),
        now=now or utcnow(),
    )
    if legacy:
        quote = replace(quote, coupon_code=code.strip() if code else None)
    return quote, promotion if quote.promotion_id is not None else None


def _apply(order: Order, quote: pricing.Quote, promotion: Promotion | None, held: Held) -> None:
    """Store ``quote``'s figures on ``order``, its tax lines updated rate by rate (a rate
    deleted and added back in one flush would clash with its unique key).

    The shipping method's name is taken when the method is chosen, as a line's product
    name is when the line is added: a method renamed since keeps its old name here.
    """
    order.coupon_code = quote.coupon_code
    order.promotion = promotion
    order.subtotal = quote.subtotal
    order.discount_total = quote.discount_total
    order.shipping_total = quote.shipping_total
    order.shipping_tax_rate = quote.shipping_tax_rate
    if quote.shipping_method_id != held.shipping_method_id or order.shipping_method_name is None:
        order.shipping_method_name = quote.shipping_method_name
    order.tax_total = quote.tax_total
    order.total = quote.total
    order.prices_include_tax = quote.prices_include_tax
    existing = {line.rate: line for line in order.tax_lines}
    kept = []
    for amount in quote.taxes:
        line = existing.pop(amount.rate, None) or OrderTaxLine(rate=amount.rate)
        line.name, line.base, line.tax = amount.name, amount.base, amount.tax
        kept.append(line)
    order.tax_lines = kept


def _take_uses(session: Session, order: Order, held: Held, promotion: Promotion | None) -> None:
    """Give back the use the order held and take the one it needs now, when either
    the code or the customer changed; refuse the save when the use is gone."""
    customer_id = order.customer.id
    before = (held.promotion_id, held.customer_id) if held.promotion_id else None
    after = (promotion.id, customer_id) if promotion is not None else None
    if before == after:
        return
    if before is not None:
        promotions.release(session, *before)
    if promotion is not None:
        problem = promotions.claim(session, promotion, customer_id)
        if problem:
            raise PricingRefused({"coupon_code": [problem]})


def price_order(
    session: Session, order: Order, lines: Sequence[OrderLine] | None = None, *, created: bool
) -> None:
    """Snapshot ``order``'s new lines, price it and store its figures, taking (or giving
    back) its promotion code's use. Raises ``PricingRefused`` by form field.

    ``lines`` are the lines that stay (default: all of them). For code that builds
    orders itself (the seed); the order form goes through ``prepare_order``.
    """
    with session.no_autoflush:
        if lines is None:
            lines = list(order.lines)
        inputs = []
        for line in lines:
            kept = not _line_is_new_or_changed_product(line) and line.sku is not None
            if not kept:
                line.take_snapshot()
            inputs.append(line_input(line, kept=kept))
        held = Held.of(None if created else order)
        quote, promotion = price(
            session,
            inputs,
            code=order.coupon_code,
            customer_id=order.customer.id,
            shipping_method=order.shipping_method,
            held=held,
        )
        if not quote.ok:
            raise PricingRefused(quote.errors)
        _take_uses(session, order, held, promotion)
        _apply(order, quote, promotion, held)


def prepare_order(
    session: Session, order: Order, actor: User | None, *, created: bool, place: bool = True
) -> None:
    """Check an order, price it and set its number and author.

    Each line added (or whose product is changed) copies the product's SKU, name, unit
    price and tax rate, so later catalogue changes do not alter an order already taken.
    Only active products can be put on a line; a line kept from before its product was
    retired still saves. The figures come from ``console.services.pricing`` (the same
    quote the order form previews); the promotion code's use is taken (or given back
    when the code changes) in this transaction. Raises ``DomainError`` when the order
    cannot be saved (``PricingRefused``, by form field, for what pricing refuses); the
    caller rolls back.

    ``place`` says the person has finished taking the order: the first save that places
    it sets ``placed_at`` and queues the "order received" e-mail, with the lines and
    total as placed, in the same transaction. A save with ``place=False`` ("Save and
    Continue Editing") keeps a draft and tells the customer nothing. A later save of a
    placed order that changes what the customer was told (``told_customer``: lines,
    addresses, code, shipping method, figures) queues one "order updated" e-mail with
    the new figures, in the same transaction; a save that changes none of it sends
    nothing. ``actor`` None is the system itself (seed, imports).
    """
    with session.no_autoflush:
        if actor is not None and not actor.has_permission(ORDERS_WRITE):
            raise DomainError(gettext("Your role does not allow taking or changing orders."))
        if not created and order.status != OrderStatus.PENDING:
            raise DomainError(
                gettext(
                    "Order %(number)s is %(status)s: its customer and lines can only be changed "
                    "while it is pending.",
                    number=order.number,
                    status=order.status,
                )
            )
        if order.customer is None:
            raise DomainError(gettext("Choose the customer this order is for."))
        # A placed order's customer hears of each save that changes what they were told.
        placed = not created and _stored(order, "placed_at") is not None
        told_before = told_customer(order, stored=True) if placed else None
        # Lines removed in the form are marked for deletion but stay in the collection
        # until the flush; they neither count nor add to the total.
        lines = [line for line in order.lines if line not in session.deleted]
        for line in lines:
            if line.product is None:
                raise DomainError(gettext("Each line needs a product."))
            if line.quantity is None or line.quantity <= 0:
                raise DomainError(
                    gettext(
                        "The quantity of %(sku)s must be a whole number above zero.",
                        sku=line.product.sku,
                    )
                )
        # No address chosen: the customer's defaults (copied, so later edits of the
        # address book leave the order as it was taken).
        fill_missing_addresses(order)
        price_order(session, order, lines, created=created)
        if not created and actor is not None and _content_changed(session, order):
            note_editor(order, actor)
        if created:
            order.status = OrderStatus.PENDING.value
            order.created_by = actor
            # The number derives from the id, which exists only after the INSERT.
            order.number = f"new-{uuid.uuid4().hex[:28]}"
    if created:
        session.flush()
        order.number = order_number(order.id)
    if place and order.placed_at is None:
        order.placed_at = utcnow()
        _flush_as_stored(session, order)
        enqueue_order_email(session, order, "order_received")
        enqueue_order_event(session, order, "order.created")
    elif told_before is not None:
        _flush_as_stored(session, order)
        if told_customer(order) != told_before:
            enqueue_order_email(session, order, "order_updated")
            enqueue_order_event(session, order, "order.updated")


def _flush_as_stored(session: Session, order: Order) -> None:
    """Write this save's changes so that ``order`` reads as stored (lines removed in
    this save are gone only once flushed): what its e-mail shows."""
    session.flush()
    session.expire(order, ["lines", "tax_lines"])


@dataclass(frozen=True)
class DraftLine:
    """A line of the order form: a product and a quantity (``line_id`` for a stored line)."""

    product_id: int
    quantity: int
    line_id: int | None = None


@dataclass(frozen=True)
class OrderDraft:
    """What the order form holds, for a preview (nothing of it is saved)."""

    lines: tuple[DraftLine, ...]
    customer_id: int | None = None
    coupon_code: str | None = None
    shipping_method_id: int | None = None


def preview(
    session: Session,
    draft: OrderDraft,
    actor: User,
    order: Order | None = None,
    *,
    now: dt.datetime | None = None,
) -> pricing.Quote:
    """The quote the order form would save, for ``draft`` (a change of ``order``, or a
    new order when None); saves nothing.

    Raises ``DomainError`` when ``actor`` may not take or change orders or ``order`` is
    no longer pending. Records the draft names that do not exist (or products no
    longer sold, on a new line) come back as field errors of the quote.
    """
    if not actor.has_permission(ORDERS_WRITE):
        raise DomainError(gettext("Your role does not allow taking or changing orders."))
    if order is not None and order.status != OrderStatus.PENDING:
        raise DomainError(
            gettext(
                "Order %(number)s is %(status)s: its customer and lines can only be changed while "
                "it is pending.",
                number=order.number,
                status=order.status,
            )
        )
    errors: dict[str, list[str]] = {}
    customer = None
    if draft.customer_id is not None:
        customer = session.get(Customer, draft.customer_id)
        if customer is None:
            errors["customer"] = ["There is no such customer."]
    else:
        errors["customer"] = ["Choose the customer this order is for."]
    shipping_method = None
    if draft.shipping_method_id is not None:
        shipping_method = session.get(ShippingMethod, draft.shipping_method_id)
        if shipping_method is None:
            errors["shipping_method"] = ["There is no such shipping method."]
    stored = {line.id: line for line in order.lines} if order is not None else {}
    products = {
        product.id: product
        for product in session.scalars(
            select(Product)
            .where(Product.id.in_({line.product_id for line in draft.lines}))
            .options(joinedload(Product.tax_rate))
        )
    }
    inputs = []
    for index, line in enumerate(draft.lines):
        product = products.get(line.product_id)
        if product is None:
            errors[f"lines-{index}-product"] = ["There is no such product."]
            continue
        kept = stored.get(line.line_id) if line.line_id is not None else None
        if kept is not None and kept.product_id == product.id:
            inputs.append(replace(line_input(kept, kept=True), quantity=line.quantity))
        else:
            inputs.append(product_input(product, line.quantity))
    quote, _promotion = price(
        session,
        inputs,
        code=draft.coupon_code,
        customer_id=customer.id if customer is not None else None,
        shipping_method=shipping_method,
        held=Held.of(order),
        now=now,
    )
    if errors:
        merged = {name: list(messages) for name, messages in quote.errors.items()}
        for name, messages in errors.items():
            merged.setdefault(name, []).extend(messages)
        quote = replace(quote, errors=MappingProxyType({k: tuple(v) for k, v in merged.items()}))
    return quote


def search_condition(term: str) -> ColumnElement[bool]:
    """How one search term finds orders, always through an index.

    - an e-mail address: the orders of the customer with exactly that address;
    - something shaped like an order number (``SO-000042``, ``DEMO-0007``, ``42``):
      that number, or the numbers that start with it;
    - anything else: the orders of customers whose last name, first name or e-mail
      starts with the term.

    A substring match (``ILIKE '%term%'``) over a million orders reads every row; these
    prefix and exact matches read only the index entries that match.
    """
    term = term.strip()
    if "@" in term:
        ids = select(Customer.id).where(Customer.email == term.lower())
        return Order.customer_id.in_(ids)
    if _ORDER_NUMBER.match(term):
        number = term.upper()
        if number.isdigit():
            number = order_number(int(number)) if len(number) <= 9 else number
        return or_(Order.number == number, _starts_with(Order.number, number))
    pattern = f"{_escape_like(term)}%"
    ids = select(Customer.id).where(
        or_(
            Customer.last_name.ilike(pattern, escape="\\"),
            Customer.first_name.ilike(pattern, escape="\\"),
            Customer.email.ilike(pattern, escape="\\"),
        )
    )
    return Order.customer_id.in_(ids)


_ORDER_NUMBER = re.compile(r"^([A-Za-z]{1,6}-)?\d+$|^[A-Za-z]{1,6}-\d*$")


def _starts_with(column: SQLColumnExpression[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range that a B-tree index answers."""
    return and_(column >= prefix, column < prefix + "\uffff")


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class OrderIntake:
    """An order taken from outside the console's form (the JSON API), ready to place."""

    customer_id: int
    lines: tuple[DraftLine, ...]
    coupon_code: str | None = None
    shipping_method_id: int | None = None
    billing_address: PostalAddress | None = None
    shipping_address: PostalAddress | None = None


def take_order(session: Session, actor: User, intake: OrderIntake) -> Order:
    """Take and place ``intake`` as ``actor``: the order form's rules, pricing and e-mail.

    Records that do not exist, addresses that cannot be delivered to and what pricing
    refuses come back together as ``PricingRefused`` by field (``customer_id``,
    ``lines.0.product_id``, ``shipping_address.country``...). Flushes; the caller
    commits (or rolls back on a refusal).
    """
    errors: dict[str, list[str]] = {}
    customer_id = row_id(intake.customer_id)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        errors["customer_id"] = ["There is no such customer."]
    shipping_method = None
    if intake.shipping_method_id is not None:
        method_id = row_id(intake.shipping_method_id)
        shipping_method = session.get(ShippingMethod, method_id) if method_id else None
        if shipping_method is None:
            errors["shipping_method_id"] = ["There is no such shipping method."]
    if not intake.lines:
        errors["lines"] = ["An order needs at least one line."]
    wanted = {row_id(line.product_id) for line in intake.lines} - {None}
    products = {
        product.id: product
        for product in session.scalars(select(Product).where(Product.id.in_(wanted)))
    }
    for index, line in enumerate(intake.lines):
        if products.get(row_id(line.product_id)) is None:  # type: ignore[arg-type]
            errors[f"lines.{index}.product_id"] = ["There is no such product."]
    addresses: dict[str, PostalAddress | None] = {
        "billing": intake.billing_address,
        "shipping": intake.shipping_address,
    }
    for kind, address in addresses.items():
        if address is None:
            continue
        address = addresses[kind] = address.cleaned()
        for name, problem in address.problems().items():
            errors[f"{kind}_address.{name}"] = [problem]
    if errors:
        raise PricingRefused(errors)
    order = Order(
        customer=customer,
        shipping_method=shipping_method,
        coupon_code=(intake.coupon_code or "").strip() or None,
    )
    for kind, address in addresses.items():
        if address is not None:
            order.keep_address(kind, address)
    for line in intake.lines:
        order.lines.append(OrderLine(product=products[line.product_id], quantity=line.quantity))
    session.add(order)
    try:
        prepare_order(session, order, actor, created=True)
    except PricingRefused as refused:
        # The form's field names, as the API's request names them.
        raise PricingRefused(
            {_INTAKE_FIELDS.get(name, name): messages for name, messages in refused.errors.items()}
        ) from None
    return order


_INTAKE_FIELDS = {"shipping_method": "shipping_method_id", "customer": "customer_id"}
