"""The customer is told "order received" once, when the clerk places the order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, OutboxMessage
from console.services import workflow
from console.services.errors import DomainError
from tests.factories import StaffFactory, catalogue
from tests.helpers import form_fields, form_token


@pytest.fixture
def goods(app):
    return catalogue({"A": 10, "B": 10}, price="12.50")


def received() -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.template == "order_received")
    return list(db.session.scalars(query))


def new_order(client, customer, lines: dict, *, continue_editing: bool):
    data = {"csrf_token": form_token(client, "/admin/order/new/"), "customer": str(customer.id)}
    for index, (product, quantity) in enumerate(lines.items()):
        data[f"lines-{index}-product"] = str(product.id)
        data[f"lines-{index}-quantity"] = str(quantity)
    if continue_editing:
        data["_continue_editing"] = "Save and Continue Editing"
    return client.post("/admin/order/new/", data=data)


def test_save_and_continue_keeps_a_draft_and_save_places_it(client, auth, goods):
    customer, products = goods
    auth.login_as("clerk")
    response = new_order(client, customer, {products["A"]: 1}, continue_editing=True)
    assert response.status_code == 302
    order = db.session.scalar(select(Order))
    assert order.placed_at is None
    assert received() == []

    # The clerk adds a line and changes a quantity, continuing to edit: still a draft.
    url = f"/admin/order/edit/?id={order.id}"
    form = form_fields(client.get(url).get_data(as_text=True))
    form.update({"lines-0-quantity": "2", "lines-1-product": str(products["B"].id)})
    form.update({"lines-1-quantity": "1", "_continue_editing": "Save and Continue Editing"})
    assert client.post(url, data=form).status_code == 302
    assert received() == []

    # Save places it: one e-mail, with the lines and total as placed.
    form = form_fields(client.get(url).get_data(as_text=True))
    form["lines-1-quantity"] = "4"
    assert client.post(url, data=form).status_code == 302
    mails = received()
    assert len(mails) == 1
    assert "2 x Product A (A)" in mails[0].body_text
    assert "4 x Product B (B)" in mails[0].body_text
    assert "Total: €75.00" in mails[0].body_text
    db.session.expire_all()
    assert db.session.get(Order, order.id).placed_at is not None

    # Later saves of the placed order tell the customer nothing more.
    form = form_fields(client.get(url).get_data(as_text=True))
    form["lines-0-quantity"] = "3"
    assert client.post(url, data=form).status_code == 302
    assert len(received()) == 1


def test_plain_save_places_the_new_order_at_once(client, auth, goods):
    customer, products = goods
    auth.login_as("clerk")
    assert (
        new_order(client, customer, {products["A"]: 3}, continue_editing=False).status_code == 302
    )
    mails = received()
    assert len(mails) == 1 and "Total: €37.50" in mails[0].body_text
    assert db.session.scalar(select(Order)).placed_at is not None


def test_a_draft_cannot_be_decided(client, auth, goods):
    customer, products = goods
    auth.login_as("clerk")
    new_order(client, customer, {products["A"]: 1}, continue_editing=True)
    order = db.session.scalar(select(Order))
    manager = StaffFactory(email="boss@staff.test", role="manager")
    with pytest.raises(DomainError, match="still being taken"):
        workflow.approve(db.session, order, manager)
    with pytest.raises(DomainError, match="still being taken"):
        workflow.reject(db.session, order, manager, reason="No stock")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "pending"
