"""Four-eyes rule: whoever changed a pending order may not approve it; the order's timeline."""

from __future__ import annotations

from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, Order, OrderLine, Product, Promotion
from console.services import workflow
from console.services.errors import DomainError
from console.services.orders import prepare_order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, flashed_errors, form_token, parse, submit, text_of


@pytest.fixture
def people(app):
    return {
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
        "manager2": StaffFactory(email="manager2@staff.test", role="manager"),
    }


@pytest.fixture
def goods(app):
    return {
        "ada": CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com"),
        "eve": CustomerFactory(first_name="Eve", last_name="Mallory", email="eve@example.com"),
        "pump": ProductFactory(sku="PUMP-1", unit_price=Decimal("228.84"), stock=100),
    }


def order_form(customer: Customer, product: Product, quantity: int, line_id: int | None = None):
    data = {
        "customer": str(customer.id),
        "coupon_code": "",
        "lines-0-product": str(product.id),
        "lines-0-quantity": str(quantity),
    }
    if line_id is not None:
        data["lines-0-id"] = str(line_id)
    return data


def approve_in_console(client, order_id: int) -> str:
    token = form_token(client, f"/admin/order/details/?id={order_id}")
    db.session.expire_all()
    version = db.session.get(Order, order_id).version
    response = client.post(
        f"/admin/order/{order_id}/do/approve/",
        data={"csrf_token": token, "version": version},
        follow_redirects=True,
    )
    return unescape(response.get_data(as_text=True))


def status_of(order_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Order, order_id).status


def test_manager_who_rewrote_a_clerks_order_cannot_approve_it(client, auth, people, goods):
    order = OrderFactory(customer=goods["ada"], lines={goods["pump"]: 2}, actor=people["clerk"])
    auth.login(people["manager"].email)
    edited = submit(
        client,
        f"/admin/order/edit/?id={order.id}",
        order_form(goods["eve"], goods["pump"], 43, order.lines[0].id),
    )
    assert edited.status_code == 302, flashed_errors(edited.get_data(as_text=True))
    db.session.expire_all()
    assert (order.customer.email, order.total) == ("eve@example.com", Decimal("9840.12"))

    page = approve_in_console(client, order.id)
    assert "four-eyes" in alerts(page)
    assert status_of(order.id) == "pending"

    auth.logout()
    auth.login(people["manager2"].email)
    assert f"Order {order.number} approved." in alerts(approve_in_console(client, order.id))
    assert status_of(order.id) == "approved"


def test_every_kind_of_change_counts_but_a_coupon_alone_does_not(app, people, goods):
    """A code that takes money off changes the total, so it counts; one that leaves
    every figure as it was (here a code worth nothing) does not."""
    manager = people["manager"]
    extra = ProductFactory(sku="X")
    db.session.add_all(
        [
            Promotion(code="WINTER", kind="percentage", value=Decimal("10")),
            Promotion(code="NOTHING", kind="fixed", value=Decimal("0")),
        ]
    )
    db.session.commit()
    orders = [
        OrderFactory(customer=goods["ada"], lines={goods["pump"]: 1}, actor=people["clerk"])
        for _ in range(5)
    ]
    by_customer, by_quantity, by_line, by_discount, by_coupon = orders
    changes = {
        by_customer: lambda order: setattr(order, "customer", goods["eve"]),
        by_quantity: lambda order: setattr(order.lines[0], "quantity", 5),
        by_line: lambda order: order.lines.append(OrderLine(product=extra, quantity=1)),
        by_discount: lambda order: setattr(order, "coupon_code", "WINTER"),
        by_coupon: lambda order: setattr(order, "coupon_code", "NOTHING"),
    }
    for order, change in changes.items():
        with db.session.no_autoflush:
            change(order)
            prepare_order(db.session, order, manager, created=False)
        db.session.commit()

    for order in (by_customer, by_quantity, by_line, by_discount):
        with pytest.raises(DomainError, match="You changed order .* four-eyes"):
            workflow.approve(db.session, order.id, manager)
        assert status_of(order.id) == "pending"
    workflow.approve(db.session, by_coupon.id, manager)
    assert status_of(by_coupon.id) == "approved"


def test_the_taker_editing_their_own_order_is_still_refused_as_the_taker(app, people, goods):
    manager = people["manager"]
    order = OrderFactory(customer=goods["ada"], lines={goods["pump"]: 1}, actor=manager)
    order.lines[0].quantity = 3
    prepare_order(db.session, order, manager, created=False)
    db.session.commit()
    assert order.edited_by == []
    with pytest.raises(DomainError, match="taken by you"):
        workflow.approve(db.session, order.id, manager)


@pytest.mark.settings(ORDERS_FOUR_EYES=False)
def test_without_the_rule_an_editor_may_approve_but_is_still_recorded(app, people, goods):
    manager = people["manager"]
    order = OrderFactory(customer=goods["ada"], lines={goods["pump"]: 1}, actor=people["clerk"])
    order.lines[0].quantity = 2
    prepare_order(db.session, order, manager, created=False)
    db.session.commit()
    assert [user.email for user in order.edited_by] == [manager.email]
    workflow.approve(db.session, order.id, manager)
    assert status_of(order.id) == "approved"


def test_order_page_shows_who_took_and_who_changed_it(client, auth, people, goods):
    auth.login(people["clerk"].email)
    taken = submit(client, "/admin/order/new/", order_form(goods["ada"], goods["pump"], 2))
    assert taken.status_code == 302, flashed_errors(taken.get_data(as_text=True))
    order = db.session.scalar(select(Order))
    auth.logout()
    auth.login(people["manager"].email)
    submit(
        client,
        f"/admin/order/edit/?id={order.id}",
        order_form(goods["eve"], goods["pump"], 43, order.lines[0].id),
    )

    for url in (f"/admin/order/details/?id={order.id}", f"/admin/order/edit/?id={order.id}"):
        soup = parse(client.get(url).get_data(as_text=True))
        section = soup.find(id="order-timeline")
        assert section is not None, url
        entries = [
            (text_of(li.select_one(".timeline-actor")), text_of(li.select_one(".timeline-what")))
            for li in section.select("li.timeline-entry.timeline-change")
        ]
        assert entries == [
            ("clerk@staff.test", "took the order; added line 2 × PUMP-1"),
            ("manager@staff.test", "changed customer, total; changed line 43 × PUMP-1"),
        ]
        assert "manager@staff.test" in text_of(soup.find(id="order-changed-by"))
        assert "clerk@staff.test" not in text_of(soup.find(id="order-changed-by"))


@pytest.mark.parametrize("language", ["de", "fr"])
def test_who_changed_the_order_is_named_in_every_language(client, auth, people, goods, language):
    """The page finds the editors from what was done, not from its English words."""
    auth.login(people["clerk"].email)
    taken = submit(client, "/admin/order/new/", order_form(goods["ada"], goods["pump"], 2))
    assert taken.status_code == 302, flashed_errors(taken.get_data(as_text=True))
    order = db.session.scalar(select(Order))
    auth.logout()
    people["manager"].language = language
    db.session.commit()
    auth.login(people["manager"].email)
    submit(
        client,
        f"/admin/order/edit/?id={order.id}",
        order_form(goods["eve"], goods["pump"], 43, order.lines[0].id),
    )

    soup = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert soup.find("html")["lang"].startswith(language)
    editors = soup.find(id="order-changed-by")
    assert editors is not None, "the page names nobody who changed the order"
    assert "manager@staff.test" in text_of(editors)
    assert "clerk@staff.test" not in text_of(editors)
