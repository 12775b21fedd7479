"""Documents in the console: the order page lists them; downloads and packing slips ask
for their permissions at the endpoint (orders.read, orders.fulfil); unknown ids are 404.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order, OutboxMessage
from console.services import documents, workflow
from tests.documents_support import approved_orders, pdf_pages, taxed_order
from tests.factories import StaffFactory
from tests.helpers import Auth, csrf_token_from, parse, text_of
from tests.pricing_support import D


@pytest.fixture
def shipped(app, team, priced):
    """An order shipped (so invoiced) with one credit note."""
    order = taxed_order(team, priced)
    workflow.ship(db.session, order.id, team["clerk"], "TRK-1")
    note = documents.issue_credit_note(
        db.session, order.id, team["manager"], [], shipping=D("2.00"), reason="Late parcel."
    )
    db.session.commit()
    invoice = documents.invoice_of(db.session, order.id)
    return {"order": order, "invoice": invoice, "note": note}


def test_the_order_page_lists_the_documents_with_their_downloads(client, auth, shipped):
    auth.login_as("viewer")
    order, invoice, note = shipped["order"], shipped["invoice"], shipped["note"]
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    listed = [text_of(item) for item in page.select("#order-documents .order-document")]
    assert listed == [f"Invoice {invoice.number} (PDF)", f"Credit note {note.number} (PDF)"]
    # A viewer does not ship: no packing slip offered.
    assert page.select_one("#order-packing-slip") is None
    links = [a["href"] for a in page.select("#order-documents .order-document a")]
    response = client.get(links[0])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert f"filename={invoice.number}.pdf" in response.headers["Content-Disposition"]
    assert response.data == invoice.pdf
    response = client.get(links[1])
    assert response.status_code == 200 and response.data == note.pdf


def test_downloads_need_orders_read_and_unknown_ids_are_404(app, client, auth, shipped):
    invoice, note = shipped["invoice"], shipped["note"]
    urls = [f"/admin/order/invoice/{invoice.id}/", f"/admin/order/credit-note/{note.id}/"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    StaffFactory(email="nobody@staff.test", role=None)
    auth.login("nobody@staff.test")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403
        assert b"%PDF" not in response.data
    viewer = app.test_client()
    Auth(viewer).login_as("viewer")
    for url in (
        f"/admin/order/invoice/{invoice.id + 1}/",
        f"/admin/order/credit-note/{note.id + 1}/",
        "/admin/order/invoice/99999999999/",
    ):
        assert viewer.get(url).status_code == 404


def test_packing_slip_is_for_those_who_ship(client, auth, shipped):
    order = shipped["order"]
    url = f"/admin/order/{order.id}/packing-slip/"
    auth.login_as("viewer")
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login_as("clerk")
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert page.select_one("#order-packing-slip a")["href"] == url
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"packing-slip-{order.number}.pdf" in response.headers["Content-Disposition"]
    (text,) = pdf_pages(response.data)
    assert f"Packing slip {order.number}" in text and "EUR" not in text
    assert client.get("/admin/order/99999999/packing-slip/").status_code == 404


def _list_action(client, name: str, ids: list[int]):
    token = csrf_token_from(client.get("/admin/order/").get_data(as_text=True))
    return client.post(
        "/admin/order/action/",
        data={"action": name, "rowid": [str(i) for i in ids], "csrf_token": token},
    )


def test_bulk_packing_slips_give_one_pdf_one_page_per_order(client, auth, team, priced):
    ids = approved_orders(team, priced, 3)
    auth.login_as("clerk")
    response = _list_action(client, "packing_slips", ids)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "packing-slips-3-orders.pdf" in response.headers["Content-Disposition"]
    pages = pdf_pages(response.data)
    numbers = db.session.scalars(select(Order.number).where(Order.id.in_(ids))).all()
    assert len(pages) == 3
    assert sorted(next(n for n in numbers if n in page) for page in pages) == sorted(numbers)


def test_bulk_packing_slips_are_refused_without_orders_fulfil(client, auth, team, priced):
    ids = approved_orders(team, priced, 2)
    auth.login_as("viewer")
    response = _list_action(client, "packing_slips", ids)
    assert response.status_code == 403
    assert b"%PDF" not in response.data


def test_the_outbox_page_of_the_shipped_email_names_its_attached_invoice(client, auth, shipped):
    message_id = db.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.template == "order_shipped")
    )
    auth.login_as("manager")
    page = parse(client.get(f"/admin/notification/details/?id={message_id}").get_data(as_text=True))
    rows = {text_of(row.find("td")): text_of(row.find_all("td")[-1]) for row in page.select("tr")}
    assert rows["Invoice attached (PDF)"] == shipped["invoice"].number
