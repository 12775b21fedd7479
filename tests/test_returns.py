"""Returns and refunds (``console.services.returns``), on SQLite and PostgreSQL.

The order of ``tests/documents_support.taxed_order``: 2 kettles at 39.90 (20 %) and 3
teas at 4.35 (5.5 %), 10 % off (9.29 spread as 7.98 and 1.31), Courier 12.00, shipped.
Paid per line: kettles 71.82 + 14.36 tax = 86.18; teas 11.74 + 0.65 tax = 12.39.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from console.database import db
from console.models import (
    AuditEvent,
    CreditNote,
    Order,
    Product,
    Return,
    ReturnState,
    StockMovement,
    TaxRate,
    WebhookDelivery,
)
from console.notify.dispatcher import deliver_due
from console.services import returns, stock, workflow
from console.services.errors import DomainError
from console.services.returns import RequestedLine
from tests.documents_support import pdf_text, taxed_order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.fixtures.servers import mail_relay
from tests.pricing_support import D, promotion


def shipped(team, priced) -> Order:
    order = taxed_order(team, priced)
    workflow.ship(db.session, order.id, team["clerk"], "TRK-1")
    return db.session.get(Order, order.id)


def line_of(order: Order, sku: str):
    return next(line for line in order.lines if line.sku == sku)


def ask(order: Order, actor, reason: str = "Dented", **units: int) -> Return:
    """Request a return of ``units`` (``KET_1=1``: SKU with - written _)."""
    lines = [
        RequestedLine(line_of(order, sku.replace("_", "-")).id, quantity)
        for sku, quantity in units.items()
    ]
    return returns.request_return(db.session, order.id, actor, lines, reason)


def received(return_: Return, actor, outcome: str = "restock") -> Return:
    return returns.receive(
        db.session, return_.id, actor, {line.id: outcome for line in return_.lines}
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("units", "reason", "message"),
    [
        ({"KET_1": 3}, "Dented", "only 2 of the 2 shipped"),
        ({"KET_1": 0, "TEA_1": 0}, "Dented", "at least one item"),
        ({}, "Dented", "at least one item"),
        ({"KET_1": -1}, "Dented", "cannot be below zero"),
        ({"KET_1": 1}, "  ", "reason"),
    ],
)
def test_bad_returns_are_refused_and_change_nothing(team, priced, units, reason, message):
    order = shipped(team, priced)
    with pytest.raises(DomainError, match=message):
        ask(order, team["clerk"], reason, **units)
    assert count(Return) == 0


def test_a_pending_order_and_unknown_lines_cannot_be_returned(team, priced):
    pending = OrderFactory(customer=priced["ada"], lines={priced["kettle"]: 1})
    line = pending.lines[0]
    with pytest.raises(DomainError, match="only shipped or delivered orders"):
        returns.request_return(
            db.session, pending.id, team["clerk"], [RequestedLine(line.id, 1)], "x"
        )
    order = shipped(team, priced)
    with pytest.raises(DomainError, match="has no line"):
        returns.request_return(
            db.session, order.id, team["clerk"], [RequestedLine(line.id, 1)], "x"
        )
    with pytest.raises(DomainError, match="does not exist"):
        returns.request_return(db.session, 2**70, team["clerk"], [], "x")
    viewer = StaffFactory(email="viewer@staff.test", role="viewer")
    with pytest.raises(DomainError, match="returns.manage"):
        ask(order, viewer, KET_1=1)
    assert count(Return) == 0


def test_partial_and_several_returns_never_exceed_what_was_shipped(team, priced):
    order = shipped(team, priced)
    first = ask(order, team["clerk"], KET_1=1, TEA_1=2)
    second = ask(order, team["clerk"], KET_1=1)
    with pytest.raises(DomainError, match="only 0 of the 2 shipped"):
        ask(order, team["clerk"], KET_1=1)
    third = ask(order, team["clerk"], TEA_1=1)
    assert [r.state for r in (first, second, third)] == ["requested"] * 3
    left = returns.returnable_units(db.session, order)
    assert set(left.values()) == {0}
    assert count(Return) == 3


def test_receiving_restocks_through_the_ledger_and_keeps_the_invariant(team, priced):
    order = shipped(team, priced)
    kettle_before = priced["kettle"].stock
    tea_before = priced["tea"].stock
    return_ = ask(order, team["clerk"], KET_1=2, TEA_1=1)
    outcomes = {
        line.id: ("restock" if line.order_line.sku == "KET-1" else "write_off")
        for line in return_.lines
    }
    returns.receive(db.session, return_.id, team["clerk"], outcomes)
    db.session.expire_all()
    assert db.session.get(Product, priced["kettle"].id).stock == kettle_before + 2
    assert db.session.get(Product, priced["tea"].id).stock == tea_before  # written off
    (movement,) = db.session.scalars(
        select(StockMovement).where(StockMovement.return_id == return_.id)
    ).all()
    assert (movement.reason, movement.quantity, movement.order_id) == (
        "return_restocked",
        2,
        order.id,
    )
    assert movement.balance_after == kettle_before + 2
    assert stock.verify(db.session).mismatches == []
    received_return = db.session.get(Return, return_.id)
    assert received_return.state == ReturnState.RECEIVED
    assert received_return.received_by_id == team["clerk"].id
    # Received once only.
    movements = count(StockMovement)
    with pytest.raises(DomainError, match="only a requested return"):
        received(received_return, team["clerk"])
    assert count(StockMovement) == movements


def test_receiving_needs_an_outcome_for_every_line(team, priced):
    order = shipped(team, priced)
    return_ = ask(order, team["clerk"], KET_1=1, TEA_1=1)
    first = return_.lines[0]
    with pytest.raises(DomainError, match="choose back to stock or written off"):
        returns.receive(db.session, return_.id, team["clerk"], {first.id: "restock"})
    with pytest.raises(DomainError, match="choose back to stock"):
        returns.receive(
            db.session, return_.id, team["clerk"], {line.id: "burn" for line in return_.lines}
        )
    assert db.session.get(Return, return_.id).state == "requested"
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.return_id == return_.id)
        )
        == 0
    )


def test_a_refused_refund_names_its_amounts_the_readers_way(app, team, priced):
    """A German manager reads the amounts of a refused refund as German writes money."""
    order = shipped(team, priced)
    return_ = received(ask(order, team["clerk"], KET_1=1), team["clerk"])
    with (
        app.test_request_context("/"),
        force_locale("de"),
        pytest.raises(DomainError) as refused,
    ):
        returns.refund(db.session, return_.id, team["manager"], shipping="12.01")
    written = "12,01\xa0€ Versandkosten sind mehr als die 12,00\xa0€"
    assert refused.value.message.startswith(written), refused.value.message
    assert db.session.get(Return, return_.id).state == "received"


def test_refund_is_what_was_paid_for_the_returned_units_and_is_capped(team, priced):
    order = shipped(team, priced)
    return_ = received(ask(order, team["clerk"], KET_1=1, TEA_1=1), team["clerk"])
    quote = returns.refund_quote(db.session, return_)
    # One kettle of two: 71.82 / 2 = 35.91 + 7.18 tax; one tea of three: 11.74 / 3 =
    # 3.91 + 0.22 tax (0.65 / 3).
    assert quote.goods == D("35.91") + D("7.18") + D("3.91") + D("0.22")
    assert quote.shipping == D("12.00")
    with pytest.raises(DomainError, match="never raised"):
        returns.refund(db.session, return_.id, team["manager"], amount=quote.goods + D("0.01"))
    with pytest.raises(DomainError, match="more than the €12.00"):
        returns.refund(db.session, return_.id, team["manager"], shipping="12.01")
    for bad in ("-1", "abc", "1.001", "NaN"):
        with pytest.raises(DomainError):
            returns.refund(db.session, return_.id, team["manager"], amount=bad)
    assert count(CreditNote) == 0 and db.session.get(Return, return_.id).state == "received"

    refunded = returns.refund(db.session, return_.id, team["manager"], amount="40.00")
    note = refunded.credit_note
    assert refunded.state == "refunded" and refunded.refund_total == note.total == D("40.00")
    assert refunded.refunded_by_id == team["manager"].id
    with pytest.raises(DomainError, match="refunded already"):
        returns.refund(db.session, return_.id, team["manager"])
    assert count(CreditNote) == 1


def test_a_refund_needs_received_goods_and_orders_approve(team, priced):
    order = shipped(team, priced)
    return_ = ask(order, team["clerk"], KET_1=1)
    with pytest.raises(DomainError, match="record its goods as received first"):
        returns.refund(db.session, return_.id, team["manager"])
    received(return_, team["clerk"])
    with pytest.raises(DomainError, match="orders.approve"):
        returns.refund(db.session, return_.id, team["clerk"])
    assert count(CreditNote) == 0


@pytest.mark.settings(REFUND_FOUR_EYES_ABOVE=D("50.00"))
def test_four_eyes_above_the_setting(team, priced):
    order = shipped(team, priced)
    return_ = received(ask(order, team["manager"], KET_1=2), team["manager"])
    # 86.18 is above 50.00: the manager who received it may not approve it ...
    with pytest.raises(DomainError, match="four-eyes"):
        returns.refund(db.session, return_.id, team["manager"])
    assert count(CreditNote) == 0
    # ... nor take a number from the credit note series meanwhile: a lower refund
    # is theirs to approve, and gets the first number.
    refunded = returns.refund(db.session, return_.id, team["manager"], amount="50.00")
    assert refunded.credit_note.number.endswith("-000001")


@pytest.mark.settings(REFUND_FOUR_EYES_ABOVE=D("50.00"))
def test_another_approver_refunds_above_the_setting(team, priced):
    order = shipped(team, priced)
    return_ = received(ask(order, team["manager"], KET_1=2), team["manager"])
    other = StaffFactory(email="second@staff.test", role="manager")
    refunded = returns.refund(db.session, return_.id, other)
    assert refunded.refund_total == D("86.18")


def test_partial_refunds_add_up_to_what_was_paid_and_no_more(team, priced):
    order = shipped(team, priced)
    paid_goods = order.total - order.shipping_total  # shipping tax is 0 % here
    total = Decimal("0")
    for units in ({"KET_1": 1, "TEA_1": 1}, {"TEA_1": 1}, {"KET_1": 1, "TEA_1": 1}):
        return_ = received(ask(order, team["clerk"], **units), team["clerk"])
        total += returns.refund(db.session, return_.id, team["manager"]).refund_total
    assert total == paid_goods


def test_shipping_is_refunded_once_over_all_returns(team, priced):
    order = shipped(team, priced)
    first = received(ask(order, team["clerk"], KET_1=1), team["clerk"])
    returns.refund(db.session, first.id, team["manager"], shipping="7.00")
    second = received(ask(order, team["clerk"], KET_1=1), team["clerk"])
    assert returns.refund_quote(db.session, second).shipping == D("5.00")
    with pytest.raises(DomainError, match="more than the €5.00"):
        returns.refund(db.session, second.id, team["manager"], shipping="5.01")


@pytest.mark.settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True)
def test_each_step_is_audited_and_posted_to_webhooks(team, priced):
    from console.services import webhooks

    admin = StaffFactory(email="admin@staff.test", role="admin")
    endpoint = webhooks.create_endpoint(
        db.session,
        admin,
        url="http://127.0.0.1:9/hook",
        events=["return.requested", "return.received", "refund.issued"],
    )
    order = shipped(team, priced)
    return_ = received(ask(order, team["clerk"], KET_1=1), team["clerk"])
    returns.refund(db.session, return_.id, team["manager"], shipping="12.00")
    events = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id)
    ).all()
    assert [e.event_type for e in events] == [
        "return.requested",
        "return.received",
        "refund.issued",
    ]
    last = json.loads(events[-1].body)["data"]
    assert last["order"]["number"] == order.number
    assert last["return"]["state"] == "refunded"
    assert last["return"]["lines"] == [{"sku": "KET-1", "quantity": 1, "outcome": "restock"}]
    assert last["return"]["refund_total"] == "55.09"  # 35.91 + 7.18 + 12.00
    assert last["return"]["credit_note"].startswith("CN-")
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.record_type == "return").order_by(AuditEvent.id)
    ).all()
    assert [a for a in actions if a != "create"] == ["request_return", "receive_return", "refund"]


@pytest.mark.settings(**mail_relay(), OUTBOX_RETRY_BASE_SECONDS=0)
def test_the_customer_gets_received_and_refunded_mails_with_the_credit_note(
    team, priced, smtp_server
):
    order = shipped(team, priced)
    return_ = received(ask(order, team["clerk"], KET_1=1), team["clerk"])
    refunded = returns.refund(db.session, return_.id, team["manager"])
    note = refunded.credit_note
    deliver_due()
    mails = {m["Subject"]: m for m in smtp_server.received}
    got = next(m for s, m in mails.items() if "received your return" in s)
    assert not list(got.iter_attachments())
    assert "1 x Kettle (KET-1)" in got.get_body(preferencelist=("plain",)).get_content()
    refund_mail = next(m for s, m in mails.items() if "your refund" in s)
    assert refund_mail["To"] == "ada@example.com"
    (attachment,) = list(refund_mail.iter_attachments())
    assert attachment.get_filename() == f"{note.number}.pdf"
    assert attachment.get_content() == note.pdf
    text = pdf_text(attachment.get_content())
    assert note.number in text and "43.09" in text  # 35.91 + 7.18
    body = refund_mail.get_body(preferencelist=("plain",)).get_content()
    assert "We refunded €43.09" in body and f"credit note {note.number}" in body


# --- a full return refunds exactly what was paid -----------------------------------------

prices = st.decimals(min_value="0.01", max_value="500", places=2)
rates = st.sampled_from([D("0"), D("5.5"), D("7"), D("19"), D("20"), D("21")])
line = st.tuples(prices, rates, st.integers(min_value=1, max_value=7))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(line, min_size=1, max_size=4),
    discount=st.sampled_from([None, "5", "12.5", "33"]),
    shipping=st.sampled_from([D("0"), D("4.90"), D("12.35")]),
    shipping_rate=rates,
    inclusive=st.booleans(),
    parts=st.integers(min_value=1, max_value=3),
)
def test_a_full_return_refunds_what_was_paid_and_parts_never_more(
    app, lines, discount, shipping, shipping_rate, inclusive, parts
):
    from console.models import ShippingMethod

    app.config["SHOP_PRICES_INCLUDE_TAX"] = inclusive
    app.config["SHOP_SHIPPING_TAX_RATE"] = shipping_rate
    app.config["REFUND_FOUR_EYES_ABOVE"] = D("9999999")
    run = count(Order)
    clerk = StaffFactory(email=f"clerk{run}@staff.test", role="clerk")
    manager = StaffFactory(email=f"manager{run}@staff.test", role="manager")
    products = {}
    for index, (price, rate, quantity) in enumerate(lines):
        tax = TaxRate(name=f"T{run}-{index}", rate=rate)
        products[
            ProductFactory(sku=f"P{run}-{index}", unit_price=price, stock=quantity, tax_rate=tax)
        ] = quantity
    method = ShippingMethod(name=f"M{run}", price=shipping)
    db.session.add(method)
    code = None
    if discount:
        code = f"C{run}"
        promotion(code, value=discount)
    order = OrderFactory(
        customer=CustomerFactory(email=f"c{run}@example.com"),
        lines=products,
        coupon_code=code,
        shipping_method=method,
        actor=clerk,
    )
    workflow.approve(db.session, order.id, manager)
    workflow.ship(db.session, order.id, clerk, "T")
    order = db.session.get(Order, order.id)
    # The shop's shipping rate changes after the sale: the order's refunds keep its own.
    app.config["SHOP_SHIPPING_TAX_RATE"] = shipping_rate + D("7")
    # Return everything in ``parts`` returns, unit by unit spread over them.
    refunded = Decimal("0")
    for part in range(parts):
        units = [
            RequestedLine(ol.id, ol.quantity // parts + (1 if part < ol.quantity % parts else 0))
            for ol in order.lines
        ]
        if not any(u.quantity for u in units):
            continue
        return_ = returns.request_return(db.session, order.id, clerk, units, "Back")
        received(return_, clerk, "write_off")
        done = returns.refund(
            db.session, return_.id, manager, shipping=order.shipping_total if part == 0 else None
        )
        refunded += done.refund_total
        assert refunded <= order.total
    assert refunded == order.total
