"""The stock ledger: the one place that changes ``Product.stock``.

What the numbers mean
---------------------
Approving an order takes its stock at once (so two approvals can never sell the same
unit), while the goods stay on the shelf until the order ships. Hence three figures:

- ``Product.stock`` is **available**: what is free to sell;
- **reserved** is the quantity on approved orders not shipped yet (their lines);
- **on hand** (physically on the shelf) = available + reserved.

Every change of ``Product.stock`` is one ``StockMovement`` (signed quantity, reason,
who, when, the order it belongs to, a note, and the stock after it), written in the
same transaction as the change. Invariant: for every product, ``Product.stock`` equals
the sum of its movements (``verify``, ``flask --app console stock verify``).

- approving an order: one "order reserved" movement per line (-quantity);
- cancelling an approved order: one "order released by cancel" per line (+quantity);
- shipping changes no stock: the reserved goods leave the shelf, ``stock`` is unchanged;
- a receipt: "received" (+n); damage or loss: "damaged" (-n); a correction: ±n;
- a count types what is on the shelf; its movement is
  ``counted - (stock + reserved)``, and the stock after it ``counted - reserved``;
- a new product's initial stock is "received"; a return put back on the shelf is
  "return restocked" (+n), naming its return and order (``restock_return``).

Concurrency
-----------
Stock changes with one conditional ``UPDATE product SET stock = stock + :n WHERE id =
:id AND stock + :n >= 0 RETURNING stock`` per product, in product-id order (so that
two transactions never wait on each other's rows in opposite orders): the database
refuses to go below zero, and the returned value is the movement's balance. A count
first writes the product row (a row lock on PostgreSQL, the write lock on SQLite),
then reads stock and reserved, so an approval cannot slip in between the reading and
the writing.

Work for another service (``take_for_order``, ``release_for_order``,
``record_initial_stock``) joins the caller's transaction; ``adjust`` is a change of its
own: it checks, applies all rows or none, audits and commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import LazyString, gettext, lazy_gettext
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from console import audit
from console.database import execute_many
from console.i18n import format_count
from console.models import (
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Return,
    StockMovement,
    StockReason,
)
from console.models.base import utcnow
from console.models.staff import User
from console.models.stock import REASON_LABELS
from console.permissions import STOCK_ADJUST
from console.services.errors import DomainError

MAX_QUANTITY = 2_000_000_000
"""The largest quantity a row of an adjustment may give (stock is a 32-bit integer)."""

MAX_NOTE_LENGTH = 500
MAX_ROWS = 200
"""The most products one adjustment changes."""

ADJUSTMENT_REASONS: tuple[StockReason, ...] = (
    StockReason.RECEIVED,
    StockReason.COUNTED,
    StockReason.DAMAGED,
    StockReason.CORRECTION,
)
"""What the Adjust stock page records (the other reasons belong to orders and returns)."""

ADJUSTMENT_HELP: dict[StockReason, LazyString] = {
    StockReason.RECEIVED: lazy_gettext(
        "Goods received: the quantity that arrived (added to stock)."
    ),
    StockReason.COUNTED: lazy_gettext(
        "Count: the quantity counted on the shelf (the difference is recorded)."
    ),
    StockReason.DAMAGED: lazy_gettext("Damaged or lost: the quantity gone (taken from stock)."),
    StockReason.CORRECTION: lazy_gettext("Correction: a signed quantity (-3 takes 3, +3 adds 3)."),
}


# --- moving stock -----------------------------------------------------------------------


def _move(
    session: Session,
    product_id: int,
    quantity: int,
    reason: StockReason,
    actor: User | None,
    *,
    order_id: int | None = None,
    return_id: int | None = None,
    note: str | None = None,
) -> StockMovement | None:
    """Change one product's stock by ``quantity`` and write its movement.

    Returns the movement (its ``balance_after`` is the stock after it), or None, with
    nothing written, when the stock would drop below zero: the database decides, in the
    same statement that changes it.
    """
    result = session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock + quantity >= 0)
        .values(stock=Product.stock + quantity, updated_at=utcnow())
        .returning(Product.stock)
        .execution_options(synchronize_session=False)
    )
    balance = result.scalar_one_or_none()
    if balance is None:
        return None
    movement = StockMovement(
        product_id=product_id,
        order_id=order_id,
        return_id=return_id,
        quantity=quantity,
        reason=reason.value,
        actor_id=actor.id if actor is not None else None,
        note=note,
        balance_after=balance,
    )
    session.add(movement)
    return movement


def _lock(session: Session, product_id: int) -> None:
    """Write the product's row, so nobody else changes it before this transaction ends."""
    session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _forget_stock(session: Session, products: Iterable[Product]) -> None:
    """Make the session read the stock again: the UPDATEs went around the ORM."""
    for product in products:
        session.expire(product, ["stock", "updated_at"])


def take_for_order(session: Session, order: Order, actor: User) -> list[str]:
    """Reserve stock for every line of ``order`` (in the caller's transaction).

    Returns the lines that were short, as a person reads them; the caller refuses the
    approval (and rolls back the lines that were taken) when there are any.
    """
    short: list[str] = []
    for line in sorted(order.lines, key=lambda line: line.product_id):
        taken = _move(
            session, line.product_id, -line.quantity, StockReason.RESERVE, actor, order_id=order.id
        )
        if taken is None:
            available = session.scalar(select(Product.stock).where(Product.id == line.product_id))
            short.append(
                gettext(
                    "%(sku)s (%(name)s): %(ordered)s ordered, %(available)s in stock",
                    sku=line.product.sku,
                    name=line.product.name,
                    ordered=format_count(line.quantity),
                    available=format_count(available or 0),
                )
            )
    _forget_stock(session, (line.product for line in order.lines))
    return short


def release_for_order(session: Session, order: Order, actor: User) -> None:
    """Give back the stock an approved order reserved (in the caller's transaction)."""
    for line in sorted(order.lines, key=lambda line: line.product_id):
        _move(
            session, line.product_id, line.quantity, StockReason.RELEASE, actor, order_id=order.id
        )
    _forget_stock(session, (line.product for line in order.lines))


def restock_return(
    session: Session, return_: Return, restocked: Iterable[tuple[int, int]], actor: User
) -> list[StockMovement]:
    """Put returned goods back on the shelf (in the caller's transaction, the receipt's):
    one "return restocked" movement per ``(product id, quantity)``, naming the return
    and its order. Adding stock never drops below zero, so each is written."""
    movements = []
    for product_id, quantity in sorted(restocked):
        movement = _move(
            session,
            product_id,
            quantity,
            StockReason.RETURN_RESTOCKED,
            actor,
            order_id=return_.order_id,
            return_id=return_.id,
            note=f"{return_.label} of order {return_.order.number}",
        )
        assert movement is not None  # a positive change is never refused
        movements.append(movement)
    _forget_stock(session, (line.order_line.product for line in return_.lines))
    return movements


def record_initial_stock(session: Session, product: Product, actor: User | None) -> None:
    """A new product's stock, as given on its form, is "received" (caller's transaction).

    The product is new in this transaction, so nobody else can change its stock
    meanwhile: the movement is written as it stands, after a flush gives the id.
    """
    if not product.stock:
        return
    session.flush()
    session.add(
        StockMovement(
            product_id=product.id,
            quantity=product.stock,
            reason=StockReason.RECEIVED.value,
            actor_id=actor.id if actor is not None else None,
            note="Initial stock of a new product",
            balance_after=product.stock,
        )
    )


def record_initial_stocks(
    session: Session, stocks: Iterable[tuple[int, int]], actor: User | None, note: str
) -> None:
    """``record_initial_stock`` for many new products at once, in one statement (an
    import's new products: ``(product id, stock)`` pairs; zero stocks write nothing)."""
    now = utcnow()
    rows = [
        {
            "product_id": product_id,
            "quantity": quantity,
            "reason": StockReason.RECEIVED.value,
            "actor_id": actor.id if actor is not None else None,
            "note": note[:MAX_NOTE_LENGTH],
            "balance_after": quantity,
            "created_at": now,
            "updated_at": now,
        }
        for product_id, quantity in stocks
        if quantity
    ]
    if rows:
        # Core's executemany on the table: the ORM's bulk insert of the same rows only
        # adds work per row (the movements' defaults are the table's own).
        table = cast(Table, StockMovement.__table__)
        execute_many(session.connection(), insert(table), rows)


def set_available(
    session: Session,
    product: Product,
    quantity: int,
    actor: User | None,
    *,
    reason: StockReason = StockReason.CORRECTION,
    note: str | None = None,
) -> StockMovement | None:
    """Make ``product``'s available stock ``quantity`` with one movement of the
    difference (none when it is already so), in the caller's transaction.

    For writers that are given a stock figure rather than a change (a product import's
    "stock" column): the row is locked before the difference is computed, so a
    concurrent approval is never overwritten. ``quantity`` must be 0 or more.
    """
    if quantity < 0:
        raise DomainError(gettext("%(sku)s: stock cannot be below zero.", sku=product.sku))
    _lock(session, product.id)
    current = session.scalar(select(Product.stock).where(Product.id == product.id)) or 0
    if quantity == current:
        return None
    movement = _move(session, product.id, quantity - current, reason, actor, note=note)
    _forget_stock(session, [product])
    return movement


@dataclass(frozen=True)
class Count:
    """One product counted on the shelf (a stock-count import's row)."""

    product_id: int
    counted: int
    note: str | None = None


@dataclass
class CountOutcome:
    """What ``record_counts`` wrote: product id -> (available before, after), the
    products whose count matched the ledger, and the counts refused (product id -> why)."""

    changed: dict[int, tuple[int, int]] = field(default_factory=dict)
    unchanged: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


COUNT_CHUNK = 500
"""Products locked, read and written together by ``record_counts``."""


def record_counts(
    session: Session, actor: User, counts: Sequence[Count], note: str
) -> CountOutcome:
    """Many counts at once, as "counted" movements, in the caller's transaction.

    The same rule as a count on the Adjust stock page, for thousands of products: the
    rows are written first (``updated_at``, in product-id order, 500 at a time: a row
    lock on PostgreSQL, the write lock on SQLite), then available and reserved are
    read, so nothing changes them in between; each movement is
    ``counted - (available + reserved)``, none when that is zero. A count below what
    approved orders hold is refused (``CountOutcome.refused``) and writes nothing; the
    caller decides whether that refuses the whole import (it rolls back) or leaves the
    row out. Each changed product is one ``adjust_stock`` event in the audit trail,
    noted as the session's ``audit.acting`` says (the import's number). Stock, movements
    and events are written with statements executed many at once.
    """
    if actor is None or not actor.active or not actor.has_permission(STOCK_ADJUST):
        raise DomainError(
            gettext(
                "Your role does not allow you to adjust stock (it needs the permission "
                "%(stock_adjust)s).",
                stock_adjust=STOCK_ADJUST,
            )
        )
    outcome = CountOutcome()
    table: Any = Product.__table__
    set_stock = (
        update(table)
        .where(table.c.id == bindparam("counted_id"))
        .values(stock=bindparam("counted_stock"), updated_at=bindparam("counted_at"))
    )
    ordered = sorted(counts, key=lambda count: count.product_id)
    for start in range(0, len(ordered), COUNT_CHUNK):
        chunk = ordered[start : start + COUNT_CHUNK]
        ids = [count.product_id for count in chunk]
        now = utcnow()
        session.execute(
            update(Product)
            .where(Product.id.in_(ids))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        current = {
            row.id: row
            for row in session.execute(
                select(Product.id, Product.sku, Product.name, Product.stock, Product.version)
                .where(Product.id.in_(ids))
                .order_by(Product.id)
            )
        }
        reserved = reserved_quantities(session, ids)
        stocks: list[dict] = []
        movements: list[dict] = []
        written: list[audit.Written] = []
        for count in chunk:
            product = current.get(count.product_id)
            if product is None:
                outcome.refused[count.product_id] = gettext(
                    "The product was deleted since the check."
                )
                continue
            held = reserved.get(count.product_id, 0)
            if not 0 <= count.counted <= MAX_QUANTITY:
                outcome.refused[count.product_id] = gettext(
                    "%(sku)s: a counted quantity is a whole number from 0 to %(most)s.",
                    sku=product.sku,
                    most=format_count(MAX_QUANTITY),
                )
                continue
            if count.counted < held:
                outcome.refused[count.product_id] = _held_message(product.sku, count.counted, held)
                continue
            change = count.counted - (product.stock + held)
            if change == 0:
                outcome.unchanged.append(count.product_id)
                continue
            balance = product.stock + change
            outcome.changed[count.product_id] = (product.stock, balance)
            stocks.append({"counted_id": product.id, "counted_stock": balance, "counted_at": now})
            movements.append(
                {
                    "product_id": product.id,
                    "quantity": change,
                    "reason": StockReason.COUNTED.value,
                    "actor_id": actor.id,
                    "note": (f"{note}; {count.note}" if count.note else note)[:MAX_NOTE_LENGTH],
                    "balance_after": balance,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            written.append(
                audit.Written(
                    audit.ADJUST_STOCK,
                    product.id,
                    product.version,
                    f"{product.sku} — {product.name}"[:255],
                    {"stock": balance},
                    {"stock": product.stock},
                )
            )
        if stocks:
            connection = session.connection()
            connection.execute(set_stock, stocks)
            connection.execute(insert(StockMovement), movements)
            audit.record_written(session, Product, written, at=now)
    return outcome


# --- figures -----------------------------------------------------------------------------


def reserved_quantities(session: Session, product_ids: Sequence[int]) -> dict[int, int]:
    """Product id -> quantity on approved orders not shipped yet (absent: none)."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status == OrderStatus.APPROVED.value, OrderLine.product_id.in_(product_ids))
        .group_by(OrderLine.product_id)
    )
    return {product_id: int(total) for product_id, total in rows}


@dataclass(frozen=True)
class StockFigures:
    """A product's stock as its page shows it."""

    available: int
    reserved: int

    @property
    def on_hand(self) -> int:
        return self.available + self.reserved


def figures(session: Session, product: Product) -> StockFigures:
    """Available, reserved and on hand of ``product``, as the database has them now."""
    available = session.scalar(select(Product.stock).where(Product.id == product.id)) or 0
    reserved = reserved_quantities(session, [product.id]).get(product.id, 0)
    return StockFigures(available=available, reserved=reserved)


def latest_movements(session: Session, product_id: int, limit: int = 20) -> list[StockMovement]:
    """The product's ``limit`` latest movements, newest first."""
    return list(
        session.scalars(
            select(StockMovement)
            .where(StockMovement.product_id == product_id)
            .order_by(StockMovement.id.desc())
            .limit(limit)
        )
    )


# --- adjustments -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentRow:
    """One product of an adjustment: its SKU and the quantity typed for it."""

    sku: str
    quantity: int


@dataclass
class AdjustmentOutcome:
    """What an adjustment wrote, and the counted products that already matched."""

    movements: list[StockMovement] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _held_message(sku: str, counted: int, held: int) -> str:
    """Why a count below what approved orders hold is refused."""
    return gettext(
        "%(sku)s: %(counted)s counted, but approved orders not shipped yet hold %(held)s; "
        "count again, or cancel or ship those orders first.",
        sku=sku,
        counted=format_count(counted),
        held=format_count(held),
    )


def _check_rows(
    session: Session, reason: StockReason, rows: Sequence[AdjustmentRow]
) -> tuple[list[tuple[Product, int]], list[str]]:
    """The rows' products and quantities, and the messages of the rows that are wrong."""
    problems: list[str] = []
    if not rows:
        return [], [gettext("Give at least one product (its SKU) and a quantity.")]
    if len(rows) > MAX_ROWS:
        return [], [gettext("One adjustment changes at most %(most)s products.", most=MAX_ROWS)]
    skus = {row.sku.strip().lower() for row in rows if row.sku.strip()}
    known = {
        product.sku.lower(): product
        for product in session.scalars(select(Product).where(func.lower(Product.sku).in_(skus)))
    }
    found: list[tuple[Product, int]] = []
    seen: set[int] = set()
    for number, row in enumerate(rows, start=1):
        product = known.get(row.sku.strip().lower())
        if not row.sku.strip():
            problems.append(gettext("Row %(row)s: give the product's SKU.", row=number))
            continue
        if product is None:
            problems.append(
                gettext(
                    "Row %(row)s: there is no product with the SKU %(sku)r.",
                    row=number,
                    sku=row.sku.strip()[:40],
                )
            )
            continue
        where = {"row": number, "sku": product.sku}
        if product.id in seen:
            problems.append(
                gettext(
                    "Row %(row)s (%(sku)s): the product is listed twice; give it once.", **where
                )
            )
            continue
        seen.add(product.id)
        quantity = row.quantity
        if abs(quantity) > MAX_QUANTITY:
            problems.append(
                gettext(
                    "Row %(row)s (%(sku)s): %(quantity)s is more than any stock can be.",
                    quantity=format_count(quantity),
                    **where,
                )
            )
        elif reason is StockReason.COUNTED and quantity < 0:
            problems.append(
                gettext("Row %(row)s (%(sku)s): a counted quantity cannot be below zero.", **where)
            )
        elif reason is StockReason.RECEIVED and quantity <= 0:
            problems.append(
                gettext(
                    "Row %(row)s (%(sku)s): give the quantity received as a whole number "
                    "above zero.",
                    **where,
                )
            )
        elif reason is StockReason.DAMAGED and quantity <= 0:
            problems.append(
                gettext(
                    "Row %(row)s (%(sku)s): give the quantity damaged or lost as a whole "
                    "number above zero.",
                    **where,
                )
            )
        elif reason is StockReason.CORRECTION and quantity == 0:
            problems.append(
                gettext(
                    "Row %(row)s (%(sku)s): a correction of zero changes nothing; give +n or -n.",
                    **where,
                )
            )
        else:
            found.append((product, quantity))
    return found, problems


def _apply(
    session: Session,
    actor: User,
    reason: StockReason,
    product: Product,
    quantity: int,
    note: str | None,
    outcome: AdjustmentOutcome,
) -> str | None:
    """Apply one row; returns why it cannot be applied, or None."""
    if reason is StockReason.COUNTED:
        _lock(session, product.id)
        available = session.scalar(select(Product.stock).where(Product.id == product.id)) or 0
        reserved = reserved_quantities(session, [product.id]).get(product.id, 0)
        if quantity < reserved:
            return _held_message(product.sku, quantity, reserved)
        change = quantity - (available + reserved)
        if change == 0:
            outcome.unchanged.append(product.sku)
            return None
    else:
        change = -quantity if reason is StockReason.DAMAGED else quantity
    before = session.scalar(select(Product.stock).where(Product.id == product.id)) or 0
    movement = _move(session, product.id, change, reason, actor, note=note)
    if movement is None:
        return gettext(
            "%(sku)s: %(stock)s in stock, so %(taken)s cannot be taken; stock cannot go below "
            "zero.",
            sku=product.sku,
            stock=format_count(before),
            taken=format_count(-change),
        )
    outcome.movements.append(movement)
    summary = f"{REASON_LABELS[reason]}: {change:+d}"  # stored: in English, as all notes
    audit.record(
        session,
        actor,
        audit.ADJUST_STOCK,
        product,
        {"stock": (before, movement.balance_after)},
        note=f"{summary}; {note}" if note else summary,
    )
    return None


def adjust(
    session: Session,
    actor: User,
    reason: StockReason | str,
    rows: Sequence[AdjustmentRow],
    note: str | None = None,
) -> AdjustmentOutcome:
    """Record a receipt, count, damage or correction for one or many products.

    All rows or none: any wrong row refuses the whole adjustment with every row's
    problem in the message, and nothing changes.
    """
    if actor is None or not actor.active or not actor.has_permission(STOCK_ADJUST):
        raise DomainError(
            gettext(
                "Your role does not allow you to adjust stock (it needs the permission "
                "%(stock_adjust)s).",
                stock_adjust=STOCK_ADJUST,
            )
        )
    try:
        chosen = StockReason(reason)
    except ValueError:
        chosen = None
    if chosen not in ADJUSTMENT_REASONS:
        raise DomainError(
            gettext(
                "Nothing was changed. Choose the reason of the adjustment: %(reasons)s.",
                reasons=", ".join(str(r.label) for r in ADJUSTMENT_REASONS),
            )
        )
    assert chosen is not None
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise DomainError(
            gettext(
                "Nothing was changed. The note is too long (at most %(max_note_length)s "
                "characters).",
                max_note_length=MAX_NOTE_LENGTH,
            )
        )
    found, problems = _check_rows(session, chosen, rows)
    if problems:
        raise DomainError(" ".join([gettext("Nothing was changed."), *problems]))
    outcome = AdjustmentOutcome()
    try:
        for product, quantity in sorted(found, key=lambda pair: pair[0].id):
            problem = _apply(session, actor, chosen, product, quantity, note, outcome)
            if problem:
                problems.append(problem)
        if problems:
            raise DomainError(" ".join([gettext("Nothing was changed."), *problems]))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    _forget_stock(session, (product for product, _ in found))
    return outcome


# --- the invariant -----------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """A product whose stock its movements do not explain."""

    sku: str
    stock: int
    moved: int


@dataclass(frozen=True)
class Verification:
    products: int
    mismatches: list[Mismatch]


def verify(session: Session) -> Verification:
    """Check, for every product at once, that its stock equals the sum of its movements."""
    totals = (
        select(StockMovement.product_id, func.sum(StockMovement.quantity).label("total"))
        .group_by(StockMovement.product_id)
        .subquery()
    )
    moved = func.coalesce(totals.c.total, 0)
    mismatches = [
        Mismatch(sku, stock, int(total))
        for sku, stock, total in session.execute(
            select(Product.sku, Product.stock, moved)
            .outerjoin(totals, totals.c.product_id == Product.id)
            .where(Product.stock != moved)
            .order_by(Product.sku)
        )
    ]
    products = session.scalar(select(func.count()).select_from(Product)) or 0
    return Verification(products=products, mismatches=mismatches)
