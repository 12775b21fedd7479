"""Large data sets for benchmarks: N orders with lines, customers and products in proportion.

``flask --app console seed --orders N`` tops the database up to N bulk orders (numbered
``BULK-0000001``...). Rows are written with SQLAlchemy Core's multi-row INSERTs in big
batches inside one transaction per batch, which writes a million orders (and about 2.5
million lines) in a few minutes on two cores; the ORM's unit of work would take an hour.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, insert, literal, select, text

from console.database import db
from console.models import (
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    OrderTaxLine,
    Product,
    StockMovement,
    StockReason,
    TaxRate,
    User,
)
from console.models.base import utcnow
from console.models.customers import search_words

BULK_PREFIX = "BULK-"
BATCH = 20_000
STATUS_CHOICES = [
    OrderStatus.PENDING.value,
    OrderStatus.APPROVED.value,
    OrderStatus.SHIPPED.value,
    OrderStatus.DELIVERED.value,
    OrderStatus.DELIVERED.value,
    OrderStatus.DELIVERED.value,
    OrderStatus.REJECTED.value,
    OrderStatus.CANCELLED.value,
]


@dataclass
class BulkReport:
    customers: int = 0
    products: int = 0
    orders: int = 0
    lines: int = 0
    seconds: float = 0.0


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _ensure_customers(wanted: int, report: BulkReport) -> list[int]:
    existing = _count(Customer, Customer.email.like("bulk%@example.com"))
    now = utcnow()
    for start in range(existing, wanted, BATCH):
        rows = [
            {
                "first_name": f"First{i}",
                "last_name": f"Last{i % 5000:04d}",
                "email": f"bulk{i:07d}@example.com",
                "phone": f"+1 555 {i:07d}",
                # A bulk INSERT bypasses the model, which keeps this column otherwise.
                "search_text": " ".join(
                    search_words(f"First{i} Last{i % 5000:04d} bulk{i:07d}@example.com")
                ),
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(start, min(start + BATCH, wanted))
        ]
        db.session.execute(insert(Customer), rows)
        report.customers += len(rows)
    db.session.commit()
    return list(
        db.session.scalars(select(Customer.id).where(Customer.email.like("bulk%@example.com")))
    )


def _zero_rate() -> TaxRate:
    """The 0 % rate bulk products are sold at (the migration creates it)."""
    rate = db.session.scalar(select(TaxRate).where(TaxRate.rate == 0).order_by(TaxRate.id))
    if rate is None:
        raise RuntimeError("no 0 % tax rate: run the migrations first (alembic upgrade head)")
    return rate


def _receive_initial_stock(now: dt.datetime) -> None:
    """A "received" movement for each bulk product's stock that no movement explains yet
    (the stock ledger's invariant: stock equals the sum of the movements)."""
    explained = select(StockMovement.id).where(StockMovement.product_id == Product.id)
    db.session.execute(
        insert(StockMovement).from_select(
            [
                "product_id",
                "quantity",
                "reason",
                "balance_after",
                "note",
                "created_at",
                "updated_at",
            ],
            select(
                Product.id,
                Product.stock,
                literal(StockReason.RECEIVED.value),
                Product.stock,
                literal("Initial stock of a bulk product"),
                literal(now),
                literal(now),
            ).where(Product.sku.like("BULK-%"), Product.stock > 0, ~explained.exists()),
        )
    )


def _ensure_products(wanted: int, report: BulkReport, rng: random.Random, rate: TaxRate) -> list:
    """Bulk products as (id, unit price, SKU, name) rows."""
    existing = _count(Product, Product.sku.like("BULK-%"))
    now = utcnow()
    rows = [
        {
            "sku": f"BULK-{i:06d}",
            "name": f"Bulk product {i}",
            "unit_price": Decimal(rng.randint(100, 50000)) / 100,
            "stock": rng.randint(0, 10_000),
            "active": True,
            "tax_rate_id": rate.id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(existing, wanted)
    ]
    if rows:
        db.session.execute(insert(Product), rows)
        _receive_initial_stock(now)
        report.products += len(rows)
    db.session.commit()
    return list(
        db.session.execute(
            select(Product.id, Product.unit_price, Product.sku, Product.name).where(
                Product.sku.like("BULK-%")
            )
        )
    )


def generate_orders(
    n_orders: int,
    *,
    n_customers: int | None = None,
    n_products: int | None = None,
    progress: Callable[[str], None] | None = None,
    seed: int = 7,
) -> BulkReport:
    """Top the database up to ``n_orders`` bulk orders (and their customers and products).

    Customers and products default to one per 20 and one per 1,000 orders.
    """
    started = time.perf_counter()
    report = BulkReport()
    rng = random.Random(seed)
    creator = db.session.scalar(select(User.id).order_by(User.id).limit(1))
    if n_customers is None:
        n_customers = max(50, n_orders // 20)
    if n_products is None:
        n_products = max(40, min(5000, n_orders // 1000))
    customers = _ensure_customers(n_customers, report)
    rate = _zero_rate()
    products = _ensure_products(n_products, report, rng, rate)
    existing = _count(Order, Order.number.like(f"{BULK_PREFIX}%"))
    next_id = (db.session.scalar(select(func.max(Order.id))) or 0) + 1
    # Orders spread over the last two years, oldest first, like a real shop's history.
    newest = utcnow().replace(microsecond=0)
    span = dt.timedelta(days=730).total_seconds()
    for start in range(existing, n_orders, BATCH):
        orders, lines, taxes = [], [], []
        stop = min(start + BATCH, n_orders)
        for i in range(start, stop):
            order_id = next_id + (i - existing)
            created = newest - dt.timedelta(seconds=span * (1 - i / max(n_orders, 1)))
            chosen = rng.sample(products, k=rng.randint(1, 4))
            total = Decimal("0")
            for product_id, price, sku, name in chosen:
                quantity = rng.randint(1, 5)
                total += price * quantity
                lines.append(
                    {
                        "order_id": order_id,
                        "product_id": product_id,
                        "quantity": quantity,
                        "unit_price": price,
                        "sku": sku,
                        "name": name,
                        "tax_rate": rate.rate,
                        "tax_name": rate.name,
                    }
                )
            # Untaxed products, no discount, no shipping: the total is the subtotal.
            taxes.append(
                {
                    "order_id": order_id,
                    "rate": rate.rate,
                    "name": rate.name,
                    "base": total,
                    "tax": 0,
                }
            )
            orders.append(
                {
                    "id": order_id,
                    "number": f"{BULK_PREFIX}{i + 1:07d}",
                    "customer_id": rng.choice(customers),
                    "status": rng.choice(STATUS_CHOICES),
                    "subtotal": total,
                    "total": total,
                    "created_by_id": creator,
                    "created_at": created,
                    "updated_at": created,
                    "version": 1,
                }
            )
        db.session.execute(insert(Order), orders)
        db.session.execute(insert(OrderLine), lines)
        db.session.execute(insert(OrderTaxLine), taxes)
        db.session.commit()
        report.orders += len(orders)
        report.lines += len(lines)
        if progress:
            progress(f"{stop:,} / {n_orders:,} orders")
    _reset_sequences()
    report.seconds = time.perf_counter() - started
    return report


def _reset_sequences() -> None:
    """Move PostgreSQL's id sequence past the ids written explicitly; refresh statistics."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(Order.__tablename__, "id"),
                    select(func.coalesce(func.max(Order.id), 1)).scalar_subquery(),
                )
            )
        )
    # Fresh planner statistics, so that the first pages served use the indexes.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
