"""Threads approving orders that compete for the same stock, on SQLite and PostgreSQL.

Each thread has its own app context, so its own session and database connection, like
two managers clicking Approve at the same moment on two gunicorn workers.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from console.database import db
from console.models import Order, OrderLine, Product, StockMovement
from console.services import workflow
from console.services.errors import DomainError
from tests.factories import OrderFactory, StaffFactory, catalogue

THREADS = 8
ORDERS = 24


def test_concurrent_approvals_never_oversell(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    managers = [StaffFactory(email=f"m{i}@staff.test", role="manager") for i in range(THREADS)]
    # 24 orders of 2 x A + 1 x B would need 48 A and 24 B; there are 25 A and 30 B,
    # so about half must be refused, and refused ones must reserve nothing.
    customer, products = catalogue({"A": 25, "B": 30})
    orders = [
        OrderFactory(customer=customer, lines={products["A"]: 2, products["B"]: 1}, actor=clerk)
        for _ in range(ORDERS)
    ]
    order_ids = [o.id for o in orders]
    manager_ids = [m.id for m in managers]
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def approver(index: int) -> None:
        try:
            with app.app_context():
                from console.models import User

                manager = db.session.get(User, manager_ids[index])
                barrier.wait()
                for order_id in order_ids[index::THREADS]:
                    try:
                        workflow.approve(db.session, order_id, manager)
                        outcomes[order_id] = "approved"
                    except DomainError as refused:
                        assert "Not enough stock" in str(refused), str(refused)
                        outcomes[order_id] = "refused"
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=approver, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(outcomes) == ORDERS

    db.session.expire_all()
    stock = dict(db.session.execute(select(Product.sku, Product.stock)).all())
    assert stock["A"] >= 0 and stock["B"] >= 0
    approved = db.session.scalars(select(Order.id).where(Order.status == "approved")).all()
    assert sorted(approved) == sorted(i for i, o in outcomes.items() if o == "approved")
    approved_qty = dict(
        db.session.execute(
            select(Product.sku, func.sum(OrderLine.quantity))
            .join(OrderLine.product)
            .join(OrderLine.order)
            .where(Order.status == "approved")
            .group_by(Product.sku)
        ).all()
    )
    # What stock dropped by is exactly what approved orders hold.
    assert 25 - stock["A"] == approved_qty.get("A", 0) == 2 * len(approved)
    assert 30 - stock["B"] == approved_qty.get("B", 0) == len(approved)
    # Stock of A runs out: 12 orders fit (24 of 25), the rest are refused.
    assert len(approved) == 12 and stock["A"] == 1
    moved = dict(
        db.session.execute(
            select(Product.sku, func.sum(StockMovement.quantity))
            .join(StockMovement.product)
            .where(StockMovement.reason == "reserve")
            .group_by(Product.sku)
        ).all()
    )
    assert moved == {"A": -24, "B": -12}


def test_concurrent_approvals_of_one_order_succeed_once(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    managers = [StaffFactory(email=f"m{i}@staff.test", role="manager") for i in range(4)]
    customer, products = catalogue({"A": 100})
    order = OrderFactory(customer=customer, lines={products["A"]: 5}, actor=clerk)
    order_id, manager_ids = order.id, [m.id for m in managers]
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def approver(index: int) -> None:
        try:
            with app.app_context():
                from console.models import User

                manager = db.session.get(User, manager_ids[index])
                barrier.wait()
                try:
                    workflow.approve(db.session, order_id, manager)
                    results.append("approved")
                except DomainError as refused:
                    results.append(str(refused))
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=approver, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results.count("approved") == 1, results
    db.session.expire_all()
    assert db.session.scalar(select(Product.stock)) == 95
