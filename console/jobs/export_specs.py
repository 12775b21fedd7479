"""What each list export contains: one declared list of columns per kind of export.

A column is a ``Field``: its key (JSON Lines), its header (CSV, XLSX), its kind (how
each format writes it) and the SQL expression it reads, or a ``value`` computed from
the other columns of the row. A new column of a model is exported by adding one line
to its list; the rows are read with plain SQL (no ORM objects), a batch at a time.

Each ``ExportSpec`` also says which model's ids the list's search and filters select
(``base``), the tables the columns come from (``source``) and how a batch of those
ids selects the exported rows (``key``): the orders export and the order-lines export
share the orders list's filters, one row per order or one per line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import FromClause, String, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from console.models import (
    AuditEvent,
    Customer,
    Order,
    OrderLine,
    OrderTaxLine,
    Product,
    StockMovement,
    User,
)
from console.models.addresses import ADDRESS_FIELDS, ADDRESS_KINDS

CENT = Decimal("0.01")

TEXT, MONEY, NUMBER, DATETIME, BOOLEAN, JSON = (
    "text",
    "money",
    "number",
    "datetime",
    "boolean",
    "json",
)
"""How a column is written: text (neutralised in spreadsheets), money (exact to the
cent), whole numbers, UTC times, yes/no, structured values (JSON)."""


@dataclass(frozen=True, eq=False)
class Field:
    """One exported column."""

    key: str
    """Name in JSON Lines (``customer_email``)."""
    header: str
    """Column title in CSV and XLSX (``Customer e-mail``)."""
    column: Any = None
    """The SQL expression read; None for a computed ``value``."""
    kind: str = TEXT
    value: Callable[[Any], Any] | None = None
    """Computes the value from the row (whose columns are named by their keys); CSV
    reads the row's amounts as text to the cent (``Cents``), the other formats as
    ``Decimal``: ``Decimal(amount)`` takes both alike."""
    convert: Callable[[Any], Any] | None = None
    """Computes the value CSV and XLSX write from this field's own ``column`` value
    alone (the tax by rate, as text): cheaper than a ``value``, which needs the row."""
    structured: Callable[[Any], Any] | None = None
    """Computes the value JSON Lines writes, when it differs from ``value`` (the text
    CSV and XLSX write): a list or an object rather than its wording."""
    csv: Any = None
    """The SQL of the text CSV writes, written whole by the database, when reading
    ``column`` and converting it in Python would cost most of the export's time."""


@dataclass(frozen=True, eq=False)
class ExportSpec:
    """One kind of list export."""

    name: str
    title: str
    """What the person reads: "Orders", "Order lines"."""
    base: Any
    """The model whose ids the list's search and filters select."""
    fields: tuple[Field, ...]
    source: Callable[[], FromClause]
    """The tables the columns come from, joined."""
    key: Callable[[], Any]
    """The column matched against a batch of ``base`` ids."""
    order: Callable[[], tuple[Any, ...]]
    """The order of the rows within a batch."""


def _line_total(row: Any) -> Decimal | None:
    if row.unit_price is None or row.quantity is None:
        return None
    return (Decimal(row.unit_price) * row.quantity).quantize(CENT)


def _changes(changes: Any) -> str:
    from console.admin.audit import changes_text  # the audit list's own wording

    return changes_text(changes)


# One tax line as the orders export reads it: its parts joined by the unit separator,
# the tax lines of an order by the record separator (characters no tax name holds).
_PART, _RECORD = "\x1f", "\x1e"


class Printed(FunctionElement[str]):
    """A number as text, printed by the database: ``sqlite`` on SQLite, ``postgresql``
    elsewhere (templates of the number's SQL, ``{0}``)."""

    type = String()
    inherit_cache = True
    sqlite: ClassVar[str]
    postgresql: ClassVar[str]


@compiles(Printed)
def _printed(element: Printed, compiler: Any, **kw: Any) -> str:
    return element.postgresql.format(compiler.process(element.clauses, **kw))


@compiles(Printed, "sqlite")
def _printed_by_sqlite(element: Printed, compiler: Any, **kw: Any) -> str:
    return element.sqlite.format(compiler.process(element.clauses, **kw))


class Cents(Printed):
    """An amount as text with two decimals (``20.00``, NULL for NULL): what ``str``
    makes of the ``Decimal`` SQLAlchemy would read."""

    name = "cents"
    inherit_cache = True
    # SQLite keeps amounts as REAL or INTEGER (20.0, 20, 0.65): printed to the cent,
    # as SQLAlchemy's Numeric reads them (``"%.2f" % value``); PostgreSQL writes a
    # numeric(p, 2) with its two decimals.
    sqlite = "CASE WHEN {0} IS NULL THEN NULL ELSE printf('%.2f', {0}) END"
    postgresql = "CAST({0} AS VARCHAR)"


class Neutralised(Printed):
    """A text as a spreadsheet may read it: with an apostrophe before a formula-like
    start (``=``, ``+``, ``-``, ``@``, tab, CR: ``console.jobs.exports.FORMULA_STARTS``)."""

    name = "neutralised"
    inherit_cache = True
    sqlite = (
        "CASE WHEN substr({0}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13))"
        " THEN '''' || {0} ELSE {0} END"
    )
    postgresql = (
        "CASE WHEN left({0}, 1) IN ('=', '+', '-', '@', chr(9), chr(13))"
        " THEN '''' || {0} ELSE {0} END"
    )


def _tax_lines_column() -> Any:
    """The order's tax lines in one text column: a correlated aggregate that SQLite
    (``group_concat``) and PostgreSQL (``string_agg``) both answer from the
    ``(order_id, rate)`` index, so that the export stays one query per batch. The
    amounts come written to the cent: the export writes them as they come."""
    parts = [OrderTaxLine.name, *(Cents(c) for c in _TAX_AMOUNTS)]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + _PART + part
    return (
        select(func.aggregate_strings(joined, _RECORD))
        .where(OrderTaxLine.order_id == Order.id)
        .scalar_subquery()
    )


_TAX_AMOUNTS = (OrderTaxLine.rate, OrderTaxLine.base, OrderTaxLine.tax)


class _TaxLineText(FunctionElement[str]):
    """One tax line as the orders export's CSV writes it (``Reduced 5.50%: 0.65``), from
    its name, rate and tax."""

    type = String()
    name = "tax_line_text"
    inherit_cache = True


@compiles(_TaxLineText)
def _tax_line_text(element: _TaxLineText, compiler: Any, **kw: Any) -> str:
    name, rate, tax = (compiler.process(clause, **kw) for clause in element.clauses)
    # chr(37) is "%", which the driver's parameter style would read in the statement.
    return f"{name} || ' ' || CAST({rate} AS VARCHAR) || chr(37) || ': ' || CAST({tax} AS VARCHAR)"


@compiles(_TaxLineText, "sqlite")
def _tax_line_text_by_sqlite(element: _TaxLineText, compiler: Any, **kw: Any) -> str:
    # One printf, whose %s ends a text at a NUL character, in this column as in the
    # rest of a row that SQLite writes whole (``console.jobs.exports``).
    return f"printf('%s %.2f%%: %.2f', {compiler.process(element.clauses, **kw)})"


def _tax_text_column() -> Any:
    """The order's tax per rate as CSV writes it, lowest rate first, written whole by
    the database: ``Reduced 5.50%: 0.65; Standard 20.00%: 14.36``.

    The lines are read in the rate's order (a derived table ordered by rate, which
    the database aggregates in the order it gives: an aggregate over an ordered
    subquery is not flattened by SQLite, and the ``(order_id, rate)`` index gives the
    same order on both databases), and neutralised as a spreadsheet's text cell (a
    tax whose name starts like a formula), once for the whole text."""
    lines = (
        select(_TaxLineText(OrderTaxLine.name, OrderTaxLine.rate, OrderTaxLine.tax).label("line"))
        .where(OrderTaxLine.order_id == Order.id)
        .order_by(OrderTaxLine.rate)
        .correlate(Order)
        .subquery("tax_lines")
    )
    text = select(func.aggregate_strings(lines.c.line, "; ").label("text")).subquery("tax_text")
    return select(Neutralised(text.c.text)).scalar_subquery()


def _by_rate(part: Sequence[str]) -> tuple[float, str]:
    return float(part[1]), part[0]


def _tax_parts(breakdown: str | None) -> list[list[str]]:
    """The order's tax lines as (name, rate, base, tax) texts, lowest rate first (the
    aggregate's order is the database's own)."""
    if not breakdown:
        return []
    parts = [record.split(_PART) for record in breakdown.split(_RECORD)]
    if len(parts) > 1:
        parts.sort(key=_by_rate)
    return parts


def _tax_lines(row: Any) -> list[dict[str, str]]:
    """The order's tax per rate, lowest rate first: name, rate (percent), base, tax."""
    return [
        {"name": name, "rate": rate, "base": base, "tax": tax}
        for name, rate, base, tax in _tax_parts(row.tax_breakdown)
    ]


def _tax_breakdown(breakdown: str | None) -> str:
    """``Reduced 5.50%: 0.65; Standard 20.00%: 14.36``: the tax per rate, as text.

    Written for every row of the orders export, so it does only what the text needs
    (no base amount, no sort for a single rate)."""
    if not breakdown:
        return ""
    if _RECORD not in breakdown:
        name, rate, _base, tax = breakdown.split(_PART)
        return f"{name} {rate}%: {tax}"
    return "; ".join([f"{name} {rate}%: {tax}" for name, rate, _b, tax in _tax_parts(breakdown)])


def _address_fields() -> tuple[Field, ...]:
    """The order's billing and shipping addresses as it keeps them, one column per part."""
    return tuple(
        Field(
            f"{kind}_{part}",
            f"{kind.capitalize()} {part.replace('_', ' ').replace('line', 'line ')}",
            getattr(Order, f"{kind}_{part}"),
        )
        for kind in ADDRESS_KINDS
        for part in ADDRESS_FIELDS
    )


_taken_by = aliased(User, name="taken_by")
_decided_by = aliased(User, name="decided_by")
_customer_name = Customer.first_name + " " + Customer.last_name


ORDER_FIELDS: tuple[Field, ...] = (
    Field("number", "Order", Order.number),
    Field("status", "Status", Order.status),
    Field("customer_name", "Customer name", _customer_name),
    Field("customer_email", "Customer e-mail", Customer.email),
    Field("coupon_code", "Coupon code", Order.coupon_code),
    Field("shipping_method", "Shipping method", Order.shipping_method_name),
    Field("subtotal", "Subtotal", Order.subtotal, MONEY),
    Field("discount_total", "Discount", Order.discount_total, MONEY),
    Field("shipping_total", "Shipping", Order.shipping_total, MONEY),
    Field("tax_total", "Tax", Order.tax_total, MONEY),
    Field(
        "tax_breakdown",
        "Tax by rate",
        _tax_lines_column(),
        JSON,
        convert=_tax_breakdown,
        structured=_tax_lines,
        csv=_tax_text_column(),
    ),
    Field("prices_include_tax", "Prices include tax", Order.prices_include_tax, BOOLEAN),
    Field("total", "Total", Order.total, MONEY),
    *_address_fields(),
    Field("taken_by", "Taken by", _taken_by.email),
    Field("created_at", "Created (UTC)", Order.created_at, DATETIME),
    Field("placed_at", "Placed (UTC)", Order.placed_at, DATETIME),
    Field("decided_by", "Decided by", _decided_by.email),
    Field("decided_at", "Decided (UTC)", Order.decided_at, DATETIME),
    Field("rejection_reason", "Rejection reason", Order.rejection_reason),
    Field("tracking_number", "Tracking number", Order.tracking_number),
    Field("shipped_at", "Shipped (UTC)", Order.shipped_at, DATETIME),
    Field("delivered_at", "Delivered (UTC)", Order.delivered_at, DATETIME),
    Field("cancelled_at", "Cancelled (UTC)", Order.cancelled_at, DATETIME),
)
"""The orders list, one row per order."""

ORDER_LINE_FIELDS: tuple[Field, ...] = (
    Field("order_number", "Order", Order.number),
    Field("order_status", "Status", Order.status),
    Field("order_created_at", "Order created (UTC)", Order.created_at, DATETIME),
    Field("customer_name", "Customer name", _customer_name),
    Field("customer_email", "Customer e-mail", Customer.email),
    # The line's own copy of the product, as it was when the line was added.
    Field("sku", "SKU", OrderLine.sku),
    Field("product_name", "Product", OrderLine.name),
    Field("quantity", "Quantity", OrderLine.quantity, NUMBER),
    Field("unit_price", "Unit price", OrderLine.unit_price, MONEY),
    Field("tax_name", "Tax", OrderLine.tax_name),
    Field("tax_rate", "Tax rate (%)", OrderLine.tax_rate, MONEY),
    Field("line_total", "Line total", kind=MONEY, value=_line_total),
)
"""The orders list, one row per order line."""

CUSTOMER_FIELDS: tuple[Field, ...] = (
    Field("first_name", "First name", Customer.first_name),
    Field("last_name", "Last name", Customer.last_name),
    Field("email", "E-mail", Customer.email),
    Field("phone", "Phone", Customer.phone),
    Field("address", "Address", Customer.address),
    Field("notes", "Notes", Customer.notes),
    Field("created_at", "Created (UTC)", Customer.created_at, DATETIME),
    Field("updated_at", "Updated (UTC)", Customer.updated_at, DATETIME),
)

PRODUCT_FIELDS: tuple[Field, ...] = (
    Field("sku", "SKU", Product.sku),
    Field("name", "Name", Product.name),
    Field("description", "Description", Product.description),
    Field("unit_price", "Unit price", Product.unit_price, MONEY),
    Field("stock", "Available", Product.stock, NUMBER),
    Field("active", "Active", Product.active, BOOLEAN),
    Field("created_at", "Created (UTC)", Product.created_at, DATETIME),
    Field("updated_at", "Updated (UTC)", Product.updated_at, DATETIME),
)

AUDIT_FIELDS: tuple[Field, ...] = (
    Field("at", "When (UTC)", AuditEvent.at, DATETIME),
    Field("actor_email", "Who", AuditEvent.actor_email),
    Field("actor_id", "Actor id", AuditEvent.actor_id, NUMBER),
    Field("client_addr", "Client address", AuditEvent.client_addr),
    Field("request_id", "Request id", AuditEvent.request_id),
    Field("action", "Action", AuditEvent.action),
    Field("record_type", "Record type", AuditEvent.record_type),
    Field("record_id", "Record id", AuditEvent.record_id, NUMBER),
    Field("record_label", "Record", AuditEvent.record_label),
    Field("changes", "Changes", AuditEvent.changes, JSON, convert=_changes),
    Field("note", "Note", AuditEvent.note),
)


_moved_by = aliased(User, name="moved_by")
_moved_order = aliased(Order, name="moved_order")

STOCK_MOVEMENT_FIELDS: tuple[Field, ...] = (
    Field("at", "When (UTC)", StockMovement.created_at, DATETIME),
    Field("sku", "SKU", Product.sku),
    Field("product_name", "Product", Product.name),
    # The stored reason (received, counted, damaged...), stable for spreadsheets.
    Field("reason", "Reason", StockMovement.reason),
    Field("quantity", "Change", StockMovement.quantity, NUMBER),
    Field("balance_after", "Stock after", StockMovement.balance_after, NUMBER),
    Field("order_number", "Order", _moved_order.number),
    Field("actor_email", "Who", _moved_by.email),
    Field("note", "Note", StockMovement.note),
)
"""The stock movements list, one row per movement."""


def _stock_movements_source() -> FromClause:
    return (
        StockMovement.__table__.join(Product, StockMovement.product_id == Product.id)
        .outerjoin(_moved_order, StockMovement.order_id == _moved_order.id)
        .outerjoin(_moved_by, StockMovement.actor_id == _moved_by.id)
    )


def _orders_source() -> FromClause:
    return (
        Order.__table__.join(Customer, Order.customer_id == Customer.id)
        .outerjoin(_taken_by, Order.created_by_id == _taken_by.id)
        .outerjoin(_decided_by, Order.decided_by_id == _decided_by.id)
    )


def _order_lines_source() -> FromClause:
    return OrderLine.__table__.join(Order, OrderLine.order_id == Order.id).join(
        Customer, Order.customer_id == Customer.id
    )


SPECS: dict[str, ExportSpec] = {
    spec.name: spec
    for spec in (
        ExportSpec(
            "orders",
            "Orders",
            Order,
            ORDER_FIELDS,
            _orders_source,
            key=lambda: Order.id,
            order=lambda: (Order.id,),
        ),
        ExportSpec(
            "order_lines",
            "Order lines",
            Order,
            ORDER_LINE_FIELDS,
            _order_lines_source,
            key=lambda: OrderLine.order_id,
            order=lambda: (OrderLine.order_id, OrderLine.id),
        ),
        ExportSpec(
            "customers",
            "Customers",
            Customer,
            CUSTOMER_FIELDS,
            lambda: Customer.__table__,
            key=lambda: Customer.id,
            order=lambda: (Customer.id,),
        ),
        ExportSpec(
            "products",
            "Products",
            Product,
            PRODUCT_FIELDS,
            lambda: Product.__table__,
            key=lambda: Product.id,
            order=lambda: (Product.id,),
        ),
        ExportSpec(
            "stock_movements",
            "Stock movements",
            StockMovement,
            STOCK_MOVEMENT_FIELDS,
            _stock_movements_source,
            key=lambda: StockMovement.id,
            order=lambda: (StockMovement.id,),
        ),
        ExportSpec(
            "audit",
            "Audit trail",
            AuditEvent,
            AUDIT_FIELDS,
            lambda: AuditEvent.__table__,
            key=lambda: AuditEvent.id,
            order=lambda: (AuditEvent.id,),
        ),
    )
}
"""Every kind of list export, by name (the views name theirs in ``export_specs``)."""
