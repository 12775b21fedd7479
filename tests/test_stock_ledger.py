"""The stock ledger: every change of stock is a movement, and stock equals their sum.

Runs on SQLite and PostgreSQL (the ``app`` fixture). The concurrency test gives each
thread its own app context, so its own session and connection, like people working
on several gunicorn workers at the same moment.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from console.database import db
from console.models import Order, OrderLine, Product, Return, StockMovement, User
from console.services import returns, stock, workflow
from console.services.errors import DomainError
from console.services.returns import RequestedLine
from console.services.stock import AdjustmentRow
from tests.factories import OrderFactory, StaffFactory, catalogue


def ledger() -> dict[str, tuple[int, int]]:
    """SKU -> (stock, sum of its movements), as the database has them now."""
    db.session.expire_all()
    moved = dict(
        db.session.execute(
            select(StockMovement.product_id, func.sum(StockMovement.quantity)).group_by(
                StockMovement.product_id
            )
        ).all()
    )
    return {
        sku: (quantity, int(moved.get(product_id, 0)))
        for product_id, sku, quantity in db.session.execute(
            select(Product.id, Product.sku, Product.stock)
        )
    }


def reserved_by_sku() -> dict[str, int]:
    return dict(
        db.session.execute(
            select(Product.sku, func.sum(OrderLine.quantity))
            .join(OrderLine.product)
            .join(OrderLine.order)
            .where(Order.status == "approved")
            .group_by(Product.sku)
        ).all()
    )


@pytest.fixture
def manager(app):
    return StaffFactory(email="manager@staff.test", role="manager")


def test_each_change_is_a_movement_with_its_balance(app, manager):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    other = StaffFactory(email="other@staff.test", role="manager")
    customer, products = catalogue({"A": 10})
    order = OrderFactory(customer=customer, lines={products["A"]: 4}, actor=clerk)
    workflow.approve(db.session, order, manager)
    # 6 free to sell, 4 reserved: 10 on the shelf. A count of 9 means one is missing.
    stock.adjust(db.session, manager, "counted", [AdjustmentRow("a", 9)], note="Shelf 3")
    assert stock.figures(db.session, products["A"]) == stock.StockFigures(available=5, reserved=4)
    stock.adjust(db.session, other, "received", [AdjustmentRow("A", 7)])
    stock.adjust(db.session, other, "damaged", [AdjustmentRow("A", 2)], note="Dropped")
    workflow.cancel(db.session, order, other)

    moves = db.session.execute(
        select(
            StockMovement.reason,
            StockMovement.quantity,
            StockMovement.balance_after,
            StockMovement.order_id,
            StockMovement.note,
        ).order_by(StockMovement.id)
    ).all()
    assert moves == [
        ("received", 10, 10, None, "Initial stock of a new product"),
        ("reserve", -4, 6, order.id, None),
        ("counted", -1, 5, None, "Shelf 3"),
        ("received", 7, 12, None, None),
        ("damaged", -2, 10, None, "Dropped"),
        ("release", 4, 14, order.id, None),
    ]
    assert ledger() == {"A": (14, 14)}


REFUSALS = [
    ("counted", [AdjustmentRow("A", -1)], "a counted quantity cannot be below zero"),
    ("damaged", [AdjustmentRow("A", 6)], "A: 5 in stock, so 6 cannot be taken"),
    ("received", [AdjustmentRow("A", 0)], "above zero"),
    ("correction", [AdjustmentRow("A", 0)], "a correction of zero changes nothing"),
    ("", [AdjustmentRow("A", 1)], "Choose the reason"),
    ("received", [AdjustmentRow("NOPE", 1)], "there is no product with the SKU 'NOPE'"),
    ("received", [], "Give at least one product"),
    ("received", [AdjustmentRow("A", 1), AdjustmentRow("a", 2)], "listed twice"),
    # All or nothing: B's receipt is not kept when A's damage is refused.
    ("damaged", [AdjustmentRow("B", 1), AdjustmentRow("A", 9)], "A: 5 in stock"),
]


@pytest.mark.parametrize(("reason", "rows", "message"), REFUSALS)
def test_bad_adjustments_change_nothing(app, manager, reason, rows, message):
    catalogue({"A": 5, "B": 5})
    before = ledger()
    with pytest.raises(DomainError, match=message):
        stock.adjust(db.session, manager, reason, rows)
    assert ledger() == before
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 2


def test_a_count_below_what_approved_orders_hold_is_refused(app, manager):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    customer, products = catalogue({"A": 10})
    workflow.approve(
        db.session, OrderFactory(customer=customer, lines={products["A"]: 4}, actor=clerk), manager
    )
    with pytest.raises(DomainError, match="3 counted, but approved orders not shipped yet hold 4"):
        stock.adjust(db.session, manager, "counted", [AdjustmentRow("A", 3)])
    assert ledger() == {"A": (6, 6)}


def test_only_stock_adjust_may_adjust(app):
    catalogue({"A": 5})
    for role in ("clerk", "viewer"):
        person = StaffFactory(email=f"{role}@staff.test", role=role)
        with pytest.raises(DomainError, match="needs the permission stock.adjust"):
            stock.adjust(db.session, person, "received", [AdjustmentRow("A", 1)])
    assert ledger() == {"A": (5, 5)}


THREADS = 7


def test_concurrent_approvals_cancels_adjustments_and_returns_keep_the_ledger(app):
    """Approvals, cancels, counts, receipts, damage and returns coming back to stock at the
    same moment: stock never drops below zero and always equals the sum of its movements."""
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    people = [StaffFactory(email=f"m{i}@staff.test", role="manager") for i in range(THREADS)]
    customer, products = catalogue({"A": 42, "B": 16})
    lines = {products["A"]: 3, products["B"]: 1}
    approved = [OrderFactory(customer=customer, lines=lines, actor=clerk) for _ in range(4)]
    for order in approved:
        workflow.approve(db.session, order, people[0])
    # Four shipped orders, each with a return of 2 A and 1 B waiting to be received.
    sent = [OrderFactory(customer=customer, lines=lines, actor=clerk) for _ in range(4)]
    waiting = []
    for order in sent:
        workflow.approve(db.session, order, people[0])
        workflow.ship(db.session, order.id, clerk, "TRK-1")
        units = {line.sku: line.id for line in order.lines}
        requested = [RequestedLine(units["A"], 2), RequestedLine(units["B"], 1)]
        waiting.append(returns.request_return(db.session, order.id, clerk, requested, "x"))
    outcomes = [{line.id: "restock" for line in r.lines} for r in waiting]
    return_ids = [r.id for r in waiting]
    pending = [OrderFactory(customer=customer, lines=lines, actor=clerk) for _ in range(8)]
    to_approve, to_cancel = [o.id for o in pending], [o.id for o in approved]
    person_ids = [p.id for p in people]
    errors: list[BaseException] = []
    refusals: list[str] = []
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> None:
        try:
            with app.app_context():
                person = db.session.get(User, person_ids[index])
                barrier.wait()
                for step in range(4):
                    try:
                        if index < 2:
                            workflow.approve(db.session, to_approve[index * 4 + step], person)
                        elif index == 2:
                            workflow.cancel(db.session, to_cancel[step], person)
                        elif index == 3:
                            counted = [AdjustmentRow("A", 20 + step), AdjustmentRow("B", 9)]
                            stock.adjust(db.session, person, "counted", counted)
                        elif index == 4:
                            stock.adjust(db.session, person, "damaged", [AdjustmentRow("B", 2)])
                        elif index == 5:
                            stock.adjust(db.session, person, "received", [AdjustmentRow("A", 1)])
                        else:
                            returns.receive(db.session, return_ids[step], person, outcomes[step])
                    except DomainError as refused:
                        refusals.append(str(refused))
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    for message in refusals:
        assert "Not enough stock" in message or "cannot" in message or "hold" in message, message

    figures = ledger()
    for sku, (quantity, moved) in figures.items():
        assert quantity >= 0 and quantity == moved, (sku, figures)
    assert stock.verify(db.session).mismatches == []
    # Every return came back, each with its own movements: 2 A and 1 B.
    db.session.expire_all()
    assert {db.session.get(Return, i).state for i in return_ids} == {"received"}
    restocked = dict(
        db.session.execute(
            select(Product.sku, func.sum(StockMovement.quantity))
            .join(StockMovement.product)
            .where(StockMovement.return_id.in_(return_ids))
            .group_by(Product.sku)
        ).all()
    )
    assert restocked == {"A": 8, "B": 4}
    # The other orders' movements are exactly what approved orders hold now: cancelled
    # orders gave back everything they took, refused approvals took nothing.
    by_orders = dict(
        db.session.execute(
            select(Product.sku, func.sum(StockMovement.quantity))
            .join(StockMovement.product)
            .where(
                StockMovement.order_id.is_not(None),
                StockMovement.order_id.not_in([o.id for o in sent]),
            )
            .group_by(Product.sku)
        ).all()
    )
    reserved = reserved_by_sku()
    assert {sku: -int(q) for sku, q in by_orders.items() if q} == reserved
    assert db.session.scalar(select(func.min(StockMovement.balance_after))) >= 0


def test_stock_verify_names_the_products_it_cannot_explain(app, runner, manager):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    customer, products = catalogue({"KET-1": 5, "LAMP-1": 3})
    workflow.approve(
        db.session,
        OrderFactory(customer=customer, lines={products["KET-1"]: 2}, actor=clerk),
        manager,
    )
    result = runner.invoke(args=["stock", "verify"])
    assert result.exit_code == 0, result.output
    assert "all 2 product(s) equals the sum of their movements" in result.output

    with db.engine.begin() as connection:
        connection.execute(text("UPDATE product SET stock = stock + 4 WHERE sku = 'LAMP-1'"))
    result = runner.invoke(args=["stock", "verify"])
    assert result.exit_code == 1
    assert "broken for 1 of 2 product(s)" in result.output
    assert "LAMP-1: stock 7, sum of movements 3 (difference +4)" in result.output
    assert "KET-1" not in result.output


def test_demo_and_bulk_data_pass_stock_verify(app, runner):
    """The seeds put their stock in through the ledger."""
    seeded = runner.invoke(args=["seed", "--orders", "230"])
    assert seeded.exit_code == 0, seeded.output
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) > 0
    result = runner.invoke(args=["stock", "verify"])
    assert result.exit_code == 0, result.output
    assert "Stock ledger verified" in result.output


def test_a_given_stock_figure_is_written_as_the_difference(app, manager):
    """``set_available``: what a writer given a figure (an import) calls."""
    _, products = catalogue({"A": 5})
    movement = stock.set_available(db.session, products["A"], 8, manager, note="Import 3")
    assert stock.set_available(db.session, products["A"], 8, manager) is None
    db.session.commit()
    assert (movement.reason, movement.quantity, movement.balance_after) == ("correction", 3, 8)
    assert ledger() == {"A": (8, 8)}
    with pytest.raises(DomainError, match="below zero"):
        stock.set_available(db.session, products["A"], -1, manager)
