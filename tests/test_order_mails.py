"""The customer's order e-mails: both addresses, the lines and every figure, and one
"your order was updated" e-mail per saved edit that changes what the customer was told.

Edits go through the console's order form; the mails are read from the outbox and as
the real SMTP server on loopback (aiosmtpd) received them, on both databases.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from console.database import db
from console.models import CustomerAddress, Order, OutboxMessage
from console.notify.dispatcher import deliver_due
from console.services import workflow
from tests.factories import StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import export, flashed_errors, form_fields, parse
from tests.pricing_support import D, order_form, priced_shop, promotion

pytestmark = pytest.mark.settings(**mail_relay(), OUTBOX_RETRY_BASE_SECONDS=0)

ORDER_LINK = re.compile(r"order-status/[A-Za-z0-9_.\-]+")

HOME = {
    "name": "Ada Lovelace",
    "line1": "12 Rue de la République",
    "postal_code": "69002",
    "city": "Lyon",
    "country": "FR",
}
OFFICE = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "line1": "1 Korenmarkt",
    "postal_code": "9000",
    "city": "Ghent",
    "country": "BE",
}


@pytest.fixture
def shop(app):
    """The priced shop; Ada bills to her office and ships home."""
    shop = priced_shop()
    for values, billing in ((OFFICE, True), (HOME, False)):
        db.session.add(
            CustomerAddress(
                customer=shop["ada"],
                **values,
                is_default_billing=billing,
                is_default_shipping=not billing,
            )
        )
    db.session.commit()
    return shop


def mails(template: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if template is not None:
        query = query.where(OutboxMessage.template == template)
    return list(db.session.scalars(query))


def the_order() -> Order:
    db.session.expire_all()
    return db.session.scalars(select(Order)).one()


def edit_form(client, order_id: int) -> tuple[str, dict]:
    """The order's edit form as a browser posts it back untouched (selects included)."""
    url = f"/admin/order/edit/?id={order_id}"
    html = client.get(url).get_data(as_text=True)
    fields = form_fields(html)
    for chooser in parse(html).find_all("select", attrs={"name": True}):
        chosen = chooser.find("option", selected=True)
        fields[chooser["name"]] = chosen["value"] if chosen else ""
    return url, fields


def save(client, order_id: int, **changes: str) -> None:
    url, fields = edit_form(client, order_id)
    response = client.post(url, data={**fields, **changes})
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))


def place(client, shop, *lines, **extra) -> Order:
    response = client.post(
        "/admin/order/new/",
        data={**order_form(shop["ada"], *lines, **extra), **_token(client)},
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    return the_order()


def _token(client) -> dict:
    html = client.get("/admin/order/new/").get_data(as_text=True)
    return {"csrf_token": form_fields(html)["csrf_token"]}


def bodies(smtp_server, subject_part: str) -> list[tuple[str, str]]:
    """(text, html) of each message the SMTP server received whose subject has ``subject_part``."""
    return [
        (
            message.get_body(preferencelist=("plain",)).get_content(),
            message.get_body(preferencelist=("html",)).get_content(),
        )
        for _, message in smtp_server.messages
        if subject_part in message["Subject"]
    ]


def test_every_customer_mail_shows_both_addresses_lines_and_figures(client, auth, shop):
    auth.login_as("manager")
    promotion("TEN")
    order = place(
        client,
        shop,
        (shop["kettle"], 2),
        (shop["tea"], 3),
        coupon_code="TEN",
        shipping=shop["post"],
    )
    workflow.approve(db.session, order.id, StaffFactory(email="boss@staff.test", role="manager"))
    workflow.ship(db.session, order.id, StaffFactory(email="ship@staff.test", role="clerk"), "TR-1")
    sent = mails()
    assert [m.template for m in sent] == ["order_received", "order_approved", "order_shipped"]
    for mail in sent:
        text, html = mail.body_text, parse(mail.body_html)
        # 2 × 39.90 + 3 × 4.35 = 92.85; 10 % off: 9.29; post is free above 50.00.
        for expected in (
            "2 x Kettle (KET-1)",
            "€39.90 each = €79.80",
            "3 x Green tea (TEA-1)",
            "€4.35 each = €13.05",
            "Subtotal: €92.85",
            "Discount (TEN): -€9.29",
            "Shipping (Post): €0.00",
            "Tax Standard 20.00 %: €14.36",
            "Tax Reduced 5.50 %: €0.65",
            "Total: €98.57",
            "Billing address:\n  Ada Lovelace\n  Analytical Engines Ltd\n  1 Korenmarkt\n"
            "  9000 Ghent\n  Belgium\n",
            "Shipping to:\n  Ada Lovelace\n  12 Rue de la République\n  69002 Lyon\n  France\n",
        ):
            assert expected in text, (mail.template, expected, text)
        billing = " ".join(html.find(id="billing-address").stripped_strings)
        shipping = " ".join(html.find(id="shipping-address").stripped_strings)
        assert billing == (
            "Billing address: Ada Lovelace Analytical Engines Ltd 1 Korenmarkt 9000 Ghent Belgium"
        )
        assert shipping == "Shipping to: Ada Lovelace 12 Rue de la République 69002 Lyon France"
        cells = [" ".join(row.stripped_strings) for row in html.select("tfoot tr")]
        assert cells == [
            "Subtotal €92.85",
            "Discount (TEN) -€9.29",
            "Shipping (Post) €0.00",
            "Tax Reduced 5.50 % €0.65",
            "Tax Standard 20.00 % €14.36",
            "Total €98.57",
        ]


def test_each_saved_edit_sends_one_update_and_an_unchanged_save_none(
    client, auth, shop, smtp_server
):
    auth.login_as("clerk")
    order = place(client, shop, (shop["kettle"], 1), shipping=shop["courier"])
    assert [m.template for m in mails()] == ["order_received"]

    save(client, order.id, **{"lines-0-quantity": "2"})
    save(client, order.id, **{"lines-0-quantity": "3"})
    save(client, order.id)  # saved again, nothing changed
    updates = mails("order_updated")
    assert len(updates) == 2
    assert len(mails()) == 3

    deliver_due()
    assert [m.status for m in mails()] == ["sent"] * 3
    received = bodies(smtp_server, f"your order {order.number} was updated")
    assert len(received) == 2
    (first_text, _), (second_text, second_html) = received
    # 2 × 39.90 = 79.80 + courier 12.00, 20 % tax on the lines: 15.96.
    assert "2 x Kettle (KET-1)" in first_text and "Total: €107.76" in first_text
    # 3 × 39.90 = 119.70 + 12.00, tax 23.94.
    assert "3 x Kettle (KET-1)" in second_text and "Total: €155.64" in second_text
    assert "Tax Standard 20.00 %: €23.94" in second_text
    assert "€155.64" in second_html and "Shipping to:" in second_html
    subjects = [message["Subject"] for _, message in smtp_server.messages]
    assert subjects == [
        f"Our shop: we received your order {order.number}",
        f"Our shop: your order {order.number} was updated",
        f"Our shop: your order {order.number} was updated",
    ]
    assert {tuple(recipients) for recipients, _ in smtp_server.messages} == {("ada@example.com",)}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"coupon_code": "TEN"}, id="code"),
        pytest.param({"shipping_method": "post"}, id="shipping-method"),
        pytest.param({"shipping_pick": "typed", "shipping_city": "Villeurbanne"}, id="address"),
        pytest.param({"lines-1-product": "tea", "lines-1-quantity": "1"}, id="line-added"),
    ],
)
def test_what_the_customer_reads_changing_sends_an_update(client, auth, shop, change):
    auth.login_as("clerk")
    promotion("TEN")
    order = place(client, shop, (shop["kettle"], 1), shipping=shop["courier"])
    values = {name: str(shop[v].id) if v in shop else v for name, v in change.items()}
    save(client, order.id, **values)
    [update] = mails("order_updated")
    assert update.subject == f"Our shop: your order {order.number} was updated"
    stored = the_order()
    assert f"Total: €{stored.total:,.2f}" in update.body_text
    if "shipping_city" in change:
        assert "69002 Villeurbanne" in update.body_text
    if "coupon_code" in change:
        assert "Discount (TEN): -€3.99" in update.body_text
    if "lines-1-product" in change:
        assert "1 x Green tea (TEA-1)" in update.body_text


def test_drafts_tell_nothing_and_placing_sends_received_only(client, auth, shop):
    auth.login_as("clerk")
    response = client.post(
        "/admin/order/new/",
        data={
            **order_form(shop["ada"], (shop["kettle"], 1)),
            **_token(client),
            "_continue_editing": "Save and Continue Editing",
        },
    )
    assert response.status_code == 302
    order = the_order()
    save(client, order.id, _continue_editing="1", **{"lines-0-quantity": "2"})
    assert mails() == []
    save(client, order.id, **{"lines-0-quantity": "4"})  # placed by this save
    assert [m.template for m in mails()] == ["order_received"]
    assert "4 x Kettle (KET-1)" in mails()[0].body_text


def test_a_decided_order_sends_no_update(client, auth, shop):
    auth.login_as("clerk")
    order = place(client, shop, (shop["kettle"], 1))
    workflow.approve(db.session, order.id, StaffFactory(email="boss@staff.test", role="manager"))
    url, fields = edit_form(client, order.id)
    client.post(url, data={**fields, "lines-0-quantity": "5"})
    assert [m.template for m in mails()] == ["order_received", "order_approved"]
    assert the_order().lines[0].quantity == 1
    assert the_order().total == D("47.88")


def test_catalogue_and_address_book_changes_leave_page_mails_and_export_as_placed(
    client, auth, shop
):
    """Rename a product and the shipping method, change the product's price and tax
    rate, and move the customer after the order was placed: the order's page, its
    export, a save of it and every e-mail rendered since (the approval) still show the
    order as it was placed."""
    auth.login_as("manager")
    order = place(client, shop, (shop["kettle"], 2), (shop["tea"], 1), shipping=shop["post"])
    details = f"/admin/order/details/?id={order.id}"

    def page() -> list[str]:
        html = parse(client.get(details).get_data(as_text=True))
        parts = html.select(
            "table.order-lines tr, table.order-taxes tr, #totals-shipping, "
            "#order-billing-address, #order-shipping-address"
        )
        return [" ".join(part.stripped_strings) for part in parts]

    def exported() -> tuple[bytes, bytes]:
        return tuple(
            export(client, f"/admin/order/export/{kind}/").get_data() for kind in ("csv", "jsonl")
        )

    page_before, export_before = page(), exported()
    [received] = mails()
    assert "Billing address:" in received.body_text and "1 Korenmarkt" in received.body_text
    assert "Tax Standard 20.00 %: €15.96" in received.body_text
    assert b"Reduced 5.50%: 0.24; Standard 20.00%: 15.96" in export_before[0]

    kettle = db.session.get(type(shop["kettle"]), shop["kettle"].id)
    kettle.name, kettle.unit_price, kettle.tax_rate = "Kettle Mk II", D("59.00"), shop["reduced"]
    post = db.session.merge(shop["post"])
    post.name = "Post (renamed)"
    standard = db.session.merge(shop["standard"])
    standard.rate, standard.name = D("25.00"), "Standard (new)"
    for address in db.session.scalars(select(CustomerAddress)):
        address.line1, address.city = "7 Place Bellecour", "Paris"
    db.session.commit()

    assert page() == page_before
    assert exported() == export_before
    save(client, order.id)  # saved again as it is: nothing the customer was told changed
    assert [m.template for m in mails()] == ["order_received"]
    workflow.approve(db.session, order.id, StaffFactory(email="boss@staff.test", role="manager"))
    approved = mails("order_approved")[0]
    for part in ("body_text", "body_html"):
        # The order page's link is signed when each mail is written: set it aside.
        before, after = (
            ORDER_LINK.sub("order-status/…", getattr(mail, part)) for mail in (received, approved)
        )
        assert after.split("Order ", 1)[1] == before.split("Order ", 1)[1], part
    assert "Kettle Mk II" not in approved.body_text and "Paris" not in approved.body_text
    assert "renamed" not in approved.body_text and "renamed" not in approved.body_html
