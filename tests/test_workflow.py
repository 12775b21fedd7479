"""The order status machine of console.services.workflow, on SQLite and PostgreSQL.

Each refusal is checked against a snapshot of the database taken before: nothing may
change and no e-mail may be queued.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, OrderStatus, OutboxMessage, Product, StockMovement
from console.services import workflow
from console.services.errors import DomainError
from tests.factories import OrderFactory, StaffFactory, catalogue


def snapshot() -> dict:
    """Everything a transition may touch, as the database has it now."""
    db.session.expire_all()
    rows = db.session.execute(
        select(
            Order.id,
            Order.status,
            Order.version,
            Order.decided_by_id,
            Order.rejection_reason,
            Order.tracking_number,
        )
    ).all()
    return {
        "orders": sorted(tuple(r) for r in rows),
        "stock": dict(db.session.execute(select(Product.sku, Product.stock)).all()),
        "outbox": sorted(
            db.session.execute(select(OutboxMessage.id, OutboxMessage.template)).all()
        ),
        # The orders' movements (each product's initial stock is one too).
        "movements": sorted(
            db.session.execute(
                select(StockMovement.product_id, StockMovement.quantity).where(
                    StockMovement.order_id.is_not(None)
                )
            ).all()
        ),
    }


@pytest.fixture
def staff(app):
    return {
        role: StaffFactory(email=f"{role}@staff.test", role=role)
        for role in ("admin", "manager", "clerk", "viewer")
    } | {"manager2": StaffFactory(email="manager2@staff.test", role="manager")}


@pytest.fixture
def shop(app, staff):
    customer, products = catalogue({"A": 10, "B": 3})
    order = OrderFactory(
        customer=customer, lines={products["A"]: 4, products["B"]: 2}, actor=staff["clerk"]
    )
    return customer, products, order


def templates_queued(order_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(OutboxMessage.template)
            .where(OutboxMessage.order_id == order_id)
            .order_by(OutboxMessage.id)
        )
    )


def test_creation_queues_order_received(shop):
    _, _, order = shop
    assert order.number == f"SO-{order.id:06d}"
    assert templates_queued(order.id) == ["order_received"]
    message = db.session.scalar(select(OutboxMessage))
    assert message.recipient == "ada@example.com"
    assert order.number in message.subject and order.number in message.body_text
    assert "4 x Product A" in message.body_text and "Total: €60.00" in message.body_text
    assert "<td" in message.body_html


def test_viewer_cannot_create_an_order(app, staff):
    customer, products = catalogue({"A": 1})
    with pytest.raises(DomainError, match="does not allow"):
        OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["viewer"])


def test_full_happy_path(shop, staff):
    _, products, order = shop
    workflow.approve(db.session, order, staff["manager"])
    after = snapshot()
    assert after["stock"] == {"A": 6, "B": 1}
    assert sorted(after["movements"]) == sorted([(products["A"].id, -4), (products["B"].id, -2)])
    db.session.refresh(order)
    assert order.status == OrderStatus.APPROVED
    assert order.decided_by_id == staff["manager"].id and order.decided_at is not None

    workflow.ship(db.session, order, staff["clerk"], "  TRK-1  ")
    db.session.refresh(order)
    assert (order.status, order.tracking_number) == ("shipped", "TRK-1")
    assert order.shipped_at is not None

    workflow.deliver(db.session, order, staff["clerk"])
    db.session.refresh(order)
    assert order.status == "delivered" and order.delivered_at is not None
    assert templates_queued(order.id) == ["order_received", "order_approved", "order_shipped"]
    shipped = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.template == "order_shipped")
    )
    assert "TRK-1" in shipped.body_text and "TRK-1" in shipped.body_html


def test_reject_with_reason(shop, staff):
    _, _, order = shop
    workflow.reject(db.session, order, staff["manager"], "Address unknown")
    db.session.refresh(order)
    assert (order.status, order.rejection_reason) == ("rejected", "Address unknown")
    assert snapshot()["stock"] == {"A": 10, "B": 3}
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.template == "order_rejected")
    )
    assert "Address unknown" in message.body_text and "Address unknown" in message.body_html


def test_cancel_pending_keeps_stock(shop, staff):
    _, _, order = shop
    workflow.cancel(db.session, order, staff["manager"])
    after = snapshot()
    assert after["stock"] == {"A": 10, "B": 3} and after["movements"] == []
    assert templates_queued(order.id) == ["order_received", "order_cancelled"]


def test_cancel_approved_returns_stock(shop, staff):
    _, products, order = shop
    workflow.approve(db.session, order, staff["manager"])
    workflow.cancel(db.session, order, staff["admin"])
    after = snapshot()
    assert after["stock"] == {"A": 10, "B": 3}
    assert sorted(q for _, q in after["movements"]) == [-4, -2, 2, 4]
    db.session.refresh(order)
    assert order.status == "cancelled" and order.cancelled_at is not None


REFUSALS = [
    # (setup transitions, transition, role, values, message)
    ([], "approve", "clerk", {}, "does not allow you to approve"),
    ([], "approve", "viewer", {}, "does not allow you to approve"),
    ([], "reject", "clerk", {"reason": "x"}, "does not allow you to reject"),
    ([], "cancel", "clerk", {}, "does not allow you to cancel"),
    ([], "ship", "viewer", {"tracking": "T"}, "does not allow you to ship"),
    ([], "ship", "clerk", {"tracking": "T"}, "only approved orders can be shipped"),
    ([], "deliver", "clerk", {}, "only shipped orders can be delivered"),
    ([], "reject", "manager", {"reason": "   "}, "Give the reason"),
    ([], "reject", "manager", {"reason": None}, "Give the reason"),
    (["approve"], "approve", "admin", {}, "only pending orders can be approved"),
    (["approve"], "reject", "admin", {"reason": "late"}, "only pending orders can be rejected"),
    (["approve"], "ship", "clerk", {"tracking": ""}, "Enter the tracking number"),
    (["approve"], "ship", "clerk", {"tracking": "x" * 101}, "too long"),
    (["approve"], "deliver", "clerk", {}, "only shipped orders can be delivered"),
    (["approve", "ship"], "cancel", "manager", {}, "only approved or pending orders"),
    (["approve", "ship", "deliver"], "cancel", "admin", {}, "is delivered"),
    (["reject"], "approve", "manager", {}, "is rejected"),
    (["cancel"], "approve", "manager", {}, "is cancelled"),
]


@pytest.mark.parametrize(("setup", "name", "role", "values", "message"), REFUSALS)
def test_refused_transitions_change_nothing(shop, staff, setup, name, role, values, message):
    _, _, order = shop
    setup_values = {"reject": {"reason": "no"}, "ship": {"tracking": "T1"}}
    for step in setup:
        workflow.perform(db.session, step, order, staff["admin"], **setup_values.get(step, {}))
    before = snapshot()
    with pytest.raises(DomainError, match=message):
        workflow.perform(db.session, name, order, staff[role], **values)
    assert snapshot() == before


def test_four_eyes_rule(app, staff):
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["manager"])
    before = snapshot()
    with pytest.raises(DomainError, match="four-eyes"):
        workflow.approve(db.session, order, staff["manager"])
    assert snapshot() == before
    workflow.approve(db.session, order, staff["manager2"])
    assert snapshot()["stock"] == {"A": 4}


@pytest.mark.settings(ORDERS_FOUR_EYES=False)
def test_four_eyes_rule_can_be_switched_off(app, staff):
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["manager"])
    workflow.approve(db.session, order, staff["manager"])
    db.session.refresh(order)
    assert order.status == "approved"


def test_short_stock_refuses_all_lines_and_names_them(app, staff):
    customer, products = catalogue({"A": 10, "B": 1, "C": 0})
    order = OrderFactory(
        customer=customer,
        lines={products["A"]: 2, products["B"]: 3, products["C"]: 1},
        actor=staff["clerk"],
    )
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        workflow.approve(db.session, order, staff["manager"])
    text = str(refused.value)
    assert "B (Product B): 3 ordered, 1 in stock" in text
    assert "C (Product C): 1 ordered, 0 in stock" in text
    assert "Product A" not in text and "nothing was reserved" in text
    assert snapshot() == before


def test_order_without_lines_cannot_be_approved(app, staff):
    customer, products = catalogue({"A": 10})
    order = OrderFactory(customer=customer, lines={products["A"]: 2}, actor=staff["clerk"])
    # Lines can vanish only behind the service's back (a direct SQL delete).
    db.session.execute(
        db.delete(type(order.lines[0])).where(type(order.lines[0]).order_id == order.id)
    )
    db.session.commit()
    before = snapshot()
    with pytest.raises(DomainError, match="has no lines"):
        workflow.approve(db.session, order, staff["manager"])
    assert snapshot() == before


def test_unknown_order_is_refused(app, staff):
    with pytest.raises(DomainError, match="does not exist"):
        workflow.approve(db.session, 999_999, staff["manager"])


def test_stale_order_object_is_reloaded_before_deciding(shop, staff):
    """A caller holding an old copy cannot approve an order someone else just rejected."""
    _, _, order = shop
    other = db.session.get(Order, order.id)
    workflow.reject(db.session, other, staff["manager"], "duplicate")
    before = snapshot()
    with pytest.raises(DomainError, match="is rejected"):
        workflow.approve(db.session, order.id, staff["manager2"])
    assert snapshot() == before
