"""Working the pending queue from the order page: a decision leads on to the next order."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from console.database import db
from console.models import Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import alerts, parse, text_of

PENDING_LIST = "/admin/pending/"


@pytest.fixture
def queue(app):
    """Four pending orders, oldest first: two by the clerk, one by the manager, one more."""
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    manager = StaffFactory(email="manager@staff.test", role="manager")
    customer = CustomerFactory()
    product = ProductFactory(sku="Q-1", unit_price=Decimal("4.00"), stock=100)
    orders = [
        OrderFactory(customer=customer, lines={product: 1}, actor=clerk),
        OrderFactory(customer=customer, lines={product: 1}, actor=clerk),
        OrderFactory(customer=customer, lines={product: 1}, actor=manager),
        OrderFactory(customer=customer, lines={product: 1}, actor=clerk),
    ]
    return {"orders": orders, "manager": manager}


def decide(client, order: Order, transition: str, **typed: str):
    """Open ``order``'s page from the pending list and post its ``transition`` form as a
    browser does: every field the form carries, plus what the person typed."""
    page = client.get(f"{PENDING_LIST}details/?id={order.id}&url={PENDING_LIST}")
    assert page.status_code == 200
    form = parse(page.get_data(as_text=True)).find(id=f"transition-{transition}")
    assert form is not None, f"no {transition} form on the page"
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    return client.post(form["action"], data={**fields, **typed})


def lands_on(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)


def test_approving_leads_to_the_next_pending_order_with_the_list_kept(client, auth, queue):
    first, second, *_ = queue["orders"]
    auth.login("manager@staff.test")
    path, query = lands_on(decide(client, first, "approve"))
    assert (path, query["id"], query["url"]) == (
        f"{PENDING_LIST}details/",
        [str(second.id)],
        [PENDING_LIST],
    )
    page = client.get(f"{path}?id={second.id}&url={PENDING_LIST}").get_data(as_text=True)
    assert f"Order {first.number} approved. Next pending order: {second.number}." in alerts(page)
    back = parse(page).find(id="back-to-list")
    assert back["href"] == PENDING_LIST and text_of(back) == "← Back to the list"
    db.session.expire_all()
    assert db.session.get(Order, first.id).status == "approved"


def test_the_queue_skips_the_managers_own_orders_and_wraps_round(client, auth, queue):
    first, second, own, last = queue["orders"]
    auth.login("manager@staff.test")
    # After the second comes the manager's own order, which they may not approve: skipped.
    path, query = lands_on(decide(client, second, "reject", reason="Duplicate"))
    assert query["id"] == [str(last.id)]
    # After the last order the queue starts again at the oldest still pending.
    path, query = lands_on(decide(client, last, "approve"))
    assert query["id"] == [str(first.id)]
    # The first decided, only the manager's own order is left: back to the list.
    path, query = lands_on(decide(client, first, "approve"))
    assert path == PENDING_LIST
    page = client.get(PENDING_LIST).get_data(as_text=True)
    assert "No other pending order is waiting for your decision." in alerts(page)
    db.session.expire_all()
    assert db.session.get(Order, own.id).status == "pending"


def test_without_the_four_eyes_rule_the_managers_own_order_is_next(client, auth, queue, app):
    first, second, own, _ = queue["orders"]
    app.config["ORDERS_FOUR_EYES"] = False
    auth.login("manager@staff.test")
    _, query = lands_on(decide(client, second, "approve"))
    assert query["id"] == [str(own.id)]


def test_a_refused_decision_stays_on_the_order(client, auth, queue):
    _, _, own, _ = queue["orders"]
    auth.login("manager@staff.test")
    page = client.get(f"{PENDING_LIST}details/?id={own.id}&url={PENDING_LIST}")
    form = parse(page.get_data(as_text=True)).find(id="transition-approve")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    path, query = lands_on(client.post(form["action"], data=fields))
    assert path == f"{PENDING_LIST}details/" and query["id"] == [str(own.id)]
    db.session.expire_all()
    assert db.session.get(Order, own.id).status == "pending"


def test_a_foreign_list_address_is_not_followed(client, auth, queue):
    first, second, *_ = queue["orders"]
    auth.login("manager@staff.test")
    response = decide(client, first, "approve", list_url="https://elsewhere.example/")
    _, query = lands_on(response)
    assert query["id"] == [str(second.id)]
    assert query["url"] == [PENDING_LIST]


def test_shipping_from_the_order_page_stays_on_the_order(client, auth, queue):
    first, *_ = queue["orders"]
    auth.login("manager@staff.test")
    lands_on(decide(client, first, "approve"))
    auth.logout()
    auth.login("clerk@staff.test")
    page = client.get(f"/admin/order/details/?id={first.id}&url=/admin/order/")
    form = parse(page.get_data(as_text=True)).find(id="transition-ship")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    path, query = lands_on(client.post(form["action"], data={**fields, "tracking": "TRK-1"}))
    assert path == "/admin/order/details/" and query["id"] == [str(first.id)]
