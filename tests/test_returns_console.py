"""The returns pages: create from the order's page, receive, refund, the list by state,
and the order's timeline; each form checks its permission at the endpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, Product, Return, StockMovement
from tests.documents_support import taxed_order
from tests.helpers import (
    alerts,
    count_rows,
    form_token,
    parse,
    snapshot,
    table_rows,
    text_of,
)
from tests.pricing_support import D


@pytest.fixture
def order(team, priced) -> Order:
    from console.services import workflow

    made = taxed_order(team, priced)
    workflow.ship(db.session, made.id, team["clerk"], "TRK-9")
    return db.session.get(Order, made.id)


def kettle(order: Order):
    return next(line for line in order.lines if line.sku == "KET-1")


def create(client, order: Order, **data):
    url = f"/admin/returns/new/{order.id}/"
    token = form_token(client, url)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)


def test_a_clerk_creates_and_receives_a_return_and_a_manager_refunds_it(
    client, auth, order, priced
):
    auth.login_as("clerk")
    page = client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True)
    link = parse(page).select_one("#create-return")
    assert link is not None and link["href"].endswith(f"/admin/returns/new/{order.id}/")

    line = kettle(order)
    done = create(client, order, **{f"quantity-{line.id}": "1", "reason": "Dented"})
    assert "Return 1 of order" in alerts(done.get_data(as_text=True))
    return_ = db.session.scalars(select(Return)).one()
    before = db.session.get(Product, priced["kettle"].id).stock

    details = f"/admin/returns/details/?id={return_.id}"
    token = form_token(client, details)
    client.post(
        f"/admin/returns/{return_.id}/receive/",
        data={"csrf_token": token, f"outcome-{return_.lines[0].id}": "restock"},
    )
    db.session.expire_all()
    assert db.session.get(Product, priced["kettle"].id).stock == before + 1
    assert (
        count_rows(StockMovement)
        and db.session.scalar(
            select(StockMovement.return_id).order_by(StockMovement.id.desc()).limit(1)
        )
        == return_.id
    )
    # A clerk cannot refund: the endpoint refuses, the page offers no form.
    page = client.get(details).get_data(as_text=True)
    assert parse(page).select_one("#return-refund-form") is None
    refused = client.post(f"/admin/returns/{return_.id}/refund/", data={"csrf_token": token})
    assert refused.status_code == 403

    auth.logout()
    auth.login_as("manager")
    page = client.get(details).get_data(as_text=True)
    assert text_of(parse(page).select_one("#refund-most")) == "€43.09"
    token = form_token(client, details)
    too_much = client.post(
        f"/admin/returns/{return_.id}/refund/",
        data={"csrf_token": token, "amount": "43.10"},
        follow_redirects=True,
    )
    assert "never raised" in alerts(too_much.get_data(as_text=True))
    done = client.post(
        f"/admin/returns/{return_.id}/refund/",
        data={"csrf_token": token, "amount": "40.00", "with_shipping": "1", "shipping": "12.00"},
        follow_redirects=True,
    )
    assert "refunded: €52.00" in alerts(done.get_data(as_text=True))
    db.session.expire_all()
    refunded = db.session.get(Return, return_.id)
    assert refunded.state == "refunded" and refunded.refund_total == D("52.00")

    # The order's page: the return and its refund in the header and the timeline,
    # with links to the return and the credit note.
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert "refunded €52.00" in text_of(page.select_one("#order-returns"))
    links = {text_of(a): a["href"] for a in page.select("#order-timeline a.timeline-link")}
    number = refunded.credit_note.number
    assert links[f"Credit note {number}"].endswith(f"/credit-note/{refunded.credit_note_id}/")
    assert links["Return 1"].endswith(f"/admin/returns/details/?id={return_.id}")
    timeline = text_of(page.select_one("#order-timeline"))
    assert (
        "recorded a return of 1 × KET-1" in timeline and "received the returned goods" in timeline
    )


def test_bad_input_gets_a_message_and_changes_nothing(client, auth, order):
    auth.login_as("clerk")
    before = snapshot(frozenset({"staff_session", "sign_in_attempt", "audit_event"}))
    line = kettle(order)
    for data, message in (
        ({f"quantity-{line.id}": "3", "reason": "x"}, "only 2 of the 2 shipped"),
        ({f"quantity-{line.id}": "one", "reason": "x"}, "whole number"),
        ({f"quantity-{line.id}": "0", "reason": "x"}, "at least one item"),
        ({f"quantity-{line.id}": "1", "reason": ""}, "reason"),
    ):
        page = create(client, order, **data)
        assert page.status_code == 200
        assert message in alerts(page.get_data(as_text=True))
    assert snapshot(frozenset({"staff_session", "sign_in_attempt", "audit_event"})) == before


def test_the_list_filters_by_state_and_viewers_cannot_act(client, auth, order, team):
    from console.services import returns
    from console.services.returns import RequestedLine

    line = kettle(order)
    one = [RequestedLine(line.id, 1)]
    first = returns.request_return(db.session, order.id, team["clerk"], one, "a")
    returns.request_return(db.session, order.id, team["clerk"], one, "b")
    returns.receive(db.session, first.id, team["clerk"], {first.lines[0].id: "write_off"})

    auth.login_as("viewer")
    listed = client.get("/admin/returns/?flt0_state_equals=received").get_data(as_text=True)
    rows = table_rows(listed)
    assert len(rows) == 1 and "Received" in rows[0] and "a" in rows[0]  # the state by its label
    assert client.get(f"/admin/returns/new/{order.id}/").status_code == 403
    token = form_token(client, "/admin/returns/")
    assert (
        client.post(f"/admin/returns/{first.id}/refund/", data={"csrf_token": token}).status_code
        == 403
    )
    assert client.get("/admin/returns/new/999999/").status_code == 403
    auth.logout()
    auth.login_as("clerk")
    assert client.get("/admin/returns/new/999999/").status_code == 404
