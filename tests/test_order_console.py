"""The order workflow in the console: buttons, endpoints, bulk actions, pending list."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, OutboxMessage, Product
from console.services import workflow
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import form_token, parse


@pytest.fixture
def shop(app):
    clerk = StaffFactory(email="taker@staff.test", role="clerk")
    customer, products = catalogue({"A": 10, "B": 1})
    order = OrderFactory(customer=customer, lines={products["A"]: 3}, actor=clerk)
    return {"clerk": clerk, "customer": customer, "products": products, "order": order}


def details_url(order_id: int, view: str = "order") -> str:
    return f"/admin/{view}/details/?id={order_id}"


def transition(client, order_id: int, name: str, token: str, **data):
    return client.post(
        f"/admin/order/{order_id}/do/{name}/",
        data={"csrf_token": token, **data},
        follow_redirects=True,
    )


def state(order_id: int) -> tuple:
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    stock = dict(db.session.execute(select(Product.sku, Product.stock)).all())
    mails = db.session.scalars(select(OutboxMessage.template).order_by(OutboxMessage.id)).all()
    return order.status, order.version, stock, list(mails)


def buttons(html: str) -> set[str]:
    found = parse(html).select('[id^="transition-"]')
    return {element["id"].removeprefix("transition-") for element in found}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("manager", {"approve", "reject", "cancel"}),
        ("admin", {"approve", "reject", "cancel"}),
        ("clerk", set()),
        ("viewer", set()),
    ],
)
def test_buttons_of_a_pending_order_follow_permissions(client, auth, shop, role, expected):
    auth.login_as(role)
    page = client.get(details_url(shop["order"].id))
    assert page.status_code == 200
    assert buttons(page.get_data(as_text=True)) == expected


def test_clerk_gets_ship_on_an_approved_order(client, auth, shop, app):
    workflow.approve(
        db.session, shop["order"], StaffFactory(email="boss@staff.test", role="manager")
    )
    auth.login_as("clerk")
    assert buttons(client.get(details_url(shop["order"].id)).get_data(as_text=True)) == {"ship"}


def test_manager_approves_from_the_order_page(client, auth, shop):
    auth.login_as("manager")
    order_id = shop["order"].id
    token = form_token(client, details_url(order_id))
    response = transition(client, order_id, "approve", token, version=shop["order"].version)
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert f"Order {shop['order'].number} approved." in html
    status, _, stock, mails = state(order_id)
    assert status == "approved" and stock["A"] == 7
    assert mails == ["order_received", "order_approved"]


@pytest.mark.parametrize(
    ("role", "name", "data"),
    [
        ("clerk", "approve", {}),
        ("clerk", "reject", {"reason": "no"}),
        ("clerk", "cancel", {}),
        ("viewer", "approve", {}),
        ("viewer", "ship", {"tracking": "T"}),
        ("viewer", "deliver", {}),
    ],
)
def test_forged_transition_is_forbidden(client, auth, shop, role, name, data):
    auth.login_as(role)
    order_id = shop["order"].id
    before = state(order_id)
    token = form_token(client, details_url(order_id))
    response = client.post(
        f"/admin/order/{order_id}/do/{name}/", data={"csrf_token": token, **data}
    )
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)
    assert state(order_id) == before


def test_anonymous_transition_goes_to_login(client, shop):
    before = state(shop["order"].id)
    response = client.post(f"/admin/order/{shop['order'].id}/do/approve/")
    # CSRF protection runs before any view: a form without a token is refused outright.
    assert response.status_code == 400
    assert state(shop["order"].id) == before


def test_transition_without_csrf_token_is_refused(client, auth, shop):
    auth.login_as("manager")
    before = state(shop["order"].id)
    response = client.post(f"/admin/order/{shop['order'].id}/do/approve/")
    assert response.status_code == 400
    assert state(shop["order"].id) == before


def test_unknown_transition_is_404(client, auth, shop):
    auth.login_as("manager")
    token = form_token(client, details_url(shop["order"].id))
    assert transition(client, shop["order"].id, "teleport", token).status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("reject", {"reason": "  "}, "Give the reason for rejecting order"),
        ("ship", {"tracking": "T-1"}, "only approved orders can be shipped"),
        ("deliver", {}, "only shipped orders can be delivered"),
    ],
)
def test_refusals_are_shown_and_change_nothing(client, auth, shop, name, data, message):
    auth.login_as("admin")
    order_id = shop["order"].id
    before = state(order_id)
    token = form_token(client, details_url(order_id))
    response = transition(client, order_id, name, token, **data)
    assert response.status_code == 200
    assert message in unescape(response.get_data(as_text=True))
    assert state(order_id) == before


def test_decision_on_an_outdated_page_is_refused(client, auth, shop):
    auth.login_as("manager")
    order_id = shop["order"].id
    token = form_token(client, details_url(order_id))
    stale_version = shop["order"].version
    order = db.session.get(Order, order_id)
    order.coupon_code = "CHANGED"  # someone edits the order meanwhile
    db.session.commit()
    before = state(order_id)
    response = transition(client, order_id, "approve", token, version=stale_version)
    assert "changed by someone else since you opened it" in unescape(
        response.get_data(as_text=True)
    )
    assert state(order_id) == before


def test_reject_and_ship_through_the_page(client, auth, shop):
    manager = auth.login_as("manager")
    assert manager
    order_id = shop["order"].id
    token = form_token(client, details_url(order_id))
    transition(client, order_id, "reject", token, reason="Out of delivery area")
    db.session.expire_all()
    assert db.session.get(Order, order_id).rejection_reason == "Out of delivery area"

    second = OrderFactory(
        customer=shop["customer"], lines={shop["products"]["A"]: 1}, actor=shop["clerk"]
    )
    transition(client, second.id, "approve", token)
    transition(client, second.id, "ship", token, tracking="TRACK-9")
    transition(client, second.id, "deliver", token)
    db.session.expire_all()
    shipped = db.session.get(Order, second.id)
    assert (shipped.status, shipped.tracking_number) == ("delivered", "TRACK-9")


def bulk(client, action: str, ids: list[int], token: str, **data):
    return client.post(
        "/admin/order/action/",
        data={"csrf_token": token, "action": action, "rowid": [str(i) for i in ids], **data},
        follow_redirects=True,
    )


def test_bulk_approve_reports_each_order(client, auth, shop):
    auth.login_as("manager")
    short = OrderFactory(
        customer=shop["customer"], lines={shop["products"]["B"]: 5}, actor=shop["clerk"]
    )
    good = shop["order"]
    token = form_token(client, "/admin/order/")
    html = unescape(bulk(client, "approve", [good.id, short.id], token).get_data(as_text=True))
    assert f"Approved: {good.number}." in html
    assert f"Refused 1 of 2: Not enough stock to approve order {short.number}" in html
    assert "B (Product B): 5 ordered, 1 in stock" in html
    assert state(good.id)[0] == "approved" and state(short.id)[0] == "pending"


def test_bulk_reject_needs_a_reason(client, auth, shop):
    auth.login_as("manager")
    token = form_token(client, "/admin/order/")
    before = state(shop["order"].id)
    html = unescape(bulk(client, "reject", [shop["order"].id], token).get_data(as_text=True))
    assert "Give the reason for rejecting the orders" in html
    assert state(shop["order"].id) == before
    bulk(client, "reject", [shop["order"].id], token, reason="Duplicate order")
    assert state(shop["order"].id)[0] == "rejected"


def test_bulk_action_forged_by_a_clerk_does_nothing(client, auth, shop):
    auth.login_as("clerk")
    list_page = client.get("/admin/order/").get_data(as_text=True)
    assert "modelActions.execute('approve')" not in list_page
    token = form_token(client, "/admin/order/")
    before = state(shop["order"].id)
    bulk(client, "approve", [shop["order"].id], token)
    bulk(client, "cancel", [shop["order"].id], token)
    assert state(shop["order"].id) == before


def test_pending_list_is_oldest_first_and_for_deciders_only(client, auth, shop, app):
    newer = OrderFactory(
        customer=shop["customer"], lines={shop["products"]["A"]: 1}, actor=shop["clerk"]
    )
    decided = OrderFactory(
        customer=shop["customer"], lines={shop["products"]["A"]: 1}, actor=shop["clerk"]
    )
    workflow.reject(
        db.session, decided, StaffFactory(email="boss@staff.test", role="manager"), "dup"
    )
    auth.login_as("manager")
    page = client.get("/admin/pending/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pending approval" in html
    first, second = shop["order"].number, newer.number
    assert first in html and second in html and decided.number not in html
    assert html.index(first) < html.index(second)
    auth.logout()
    auth.login_as("clerk")
    assert client.get("/admin/pending/").status_code == 403
    assert "/admin/pending/" not in client.get("/admin/order/").get_data(as_text=True)


def test_edit_page_of_a_decided_order_says_it_cannot_change(client, auth, shop):
    workflow.approve(
        db.session, shop["order"], StaffFactory(email="boss@staff.test", role="manager")
    )
    auth.login_as("clerk")
    page = client.get(f"/admin/order/edit/?id={shop['order'].id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "can only be\n      changed while it is pending" in html
    assert 'name="lines-0-quantity"' not in html
    pending = OrderFactory(
        customer=shop["customer"], lines={shop["products"]["A"]: 1}, actor=shop["clerk"]
    )
    html = client.get(f"/admin/order/edit/?id={pending.id}").get_data(as_text=True)
    assert 'id="not-editable"' not in html and "lines-0-quantity" in html
