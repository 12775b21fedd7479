"""Orders priced through the order form: codes, shipping, tax, snapshots, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import (
    Order,
    OrderLine,
    OutboxMessage,
    Product,
    Promotion,
    PromotionCustomerUse,
    ShippingMethod,
)
from console.models.base import utcnow
from tests.helpers import count_rows, export, flashed_errors, parse, submit, text_of
from tests.pricing_support import D, field_errors, order_form, priced_shop, promotion


@pytest.fixture
def shop(app):
    return priced_shop()


@pytest.fixture
def clerk(auth):
    return auth.login_as("clerk")


def the_order() -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).order_by(Order.id.desc()))


def uses(code: str) -> tuple[int, dict[int, int]]:
    """A code's uses in all, and per customer id."""
    db.session.expire_all()
    made = db.session.scalar(select(Promotion).where(Promotion.code == code))
    per_customer = dict(
        db.session.execute(
            select(PromotionCustomerUse.customer_id, PromotionCustomerUse.times_used).where(
                PromotionCustomerUse.promotion_id == made.id
            )
        ).all()
    )
    return made.times_used, {k: v for k, v in per_customer.items() if v}


def test_an_order_is_priced_with_tax_code_and_shipping(client, clerk, shop):
    promotion("WELCOME10", per_customer_limit=1)
    data = order_form(
        shop["ada"],
        (shop["kettle"], 1),
        (shop["tea"], 2),
        coupon_code=" welcome10 ",
        shipping=shop["post"],
    )
    response = submit(client, "/admin/order/new/", data)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    order = the_order()
    # 39.90 + 2 × 4.35 = 48.60; 10 % off is 4.86, spread 3.99 / 0.87 over the lines.
    # Tax: (39.90 - 3.99) × 20 % = 7.182 -> 7.18; (8.70 - 0.87) × 5.5 % = 0.43065 -> 0.43.
    # Subtotal 48.60 is under the 50.00 of free shipping: 4.90, untaxed (rate 0).
    assert (order.subtotal, order.discount_total, order.shipping_total) == (
        D("48.60"),
        D("4.86"),
        D("4.90"),
    )
    assert order.tax_total == D("7.61")
    assert order.total == D("48.60") - D("4.86") + D("4.90") + D("7.61")
    assert [(t.rate, t.base, t.tax) for t in order.tax_lines] == [
        (D("0.00"), D("4.90"), D("0.00")),
        (D("5.50"), D("7.83"), D("0.43")),
        (D("20.00"), D("35.91"), D("7.18")),
    ]
    assert order.coupon_code == "WELCOME10" and order.promotion.code == "WELCOME10"
    assert order.shipping_method.name == "Post"
    assert uses("WELCOME10") == (1, {shop["ada"].id: 1})


@pytest.mark.settings(SHOP_PRICES_INCLUDE_TAX=True, SHOP_SHIPPING_TAX_RATE=Decimal("20"))
def test_prices_with_tax_included_show_the_tax_inside_the_total(client, clerk, shop):
    data = order_form(shop["ada"], (shop["kettle"], 1), shipping=shop["courier"])
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    # 39.90 includes 39.90 × 20 / 120 = 6.65; the courier's 12.00 includes 2.00.
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (
        D("39.90"),
        D("12.00"),
        D("8.65"),
        D("51.90"),
    )
    assert order.prices_include_tax
    mail = db.session.scalar(select(OutboxMessage)).body_text
    assert "Tax included Standard 20.00 %: €8.65" in mail and "Total: €51.90" in mail


def test_shipping_is_free_from_its_amount(client, clerk, shop):
    data = order_form(shop["ada"], (shop["kettle"], 2), shipping=shop["post"])
    assert submit(client, "/admin/order/new/", data).status_code == 302
    assert the_order().shipping_total == 0


def now_plus(days: int) -> dt.datetime:
    return utcnow() + dt.timedelta(days=days)


BAD_CODES = {
    "unknown": ({}, "NOPE", "There is no promotion code NOPE"),
    "inactive": ({"active": False}, "CODE", "no longer active"),
    "not yet valid": ({"valid_from": "future"}, "CODE", "not valid yet"),
    "expired": ({"valid_until": "past"}, "CODE", "expired"),
    "used up": ({"usage_limit": 2, "times_used": 2}, "CODE", "used up"),
    "below minimum": ({"minimum_subtotal": D("100.00")}, "CODE", "at least €100.00"),
    "fixed above subtotal": (
        {"kind": "fixed", "value": "40.00"},
        "CODE",
        "more than this order's subtotal of €39.90",
    ),
}


@pytest.mark.parametrize("case", BAD_CODES, ids=list(BAD_CODES))
def test_a_code_that_cannot_apply_is_refused_on_its_field(client, clerk, shop, case):
    terms, typed, message = BAD_CODES[case]
    terms = dict(terms)
    if terms.get("valid_from") == "future":
        terms["valid_from"] = now_plus(1)
    if terms.get("valid_until") == "past":
        terms["valid_until"] = now_plus(-1)
    promotion("CODE", **terms)
    before = uses("CODE")
    data = order_form(shop["ada"], (shop["kettle"], 1), coupon_code=typed)
    response = submit(client, "/admin/order/new/", data)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), "coupon_code")
    assert any(message in error for error in errors), errors
    assert count_rows(Order) == 0 and count_rows(OrderLine) == 0
    assert count_rows(OutboxMessage) == 0
    assert uses("CODE") == before


def test_a_customer_cannot_use_a_code_beyond_their_limit(client, clerk, shop):
    promotion("ONCE", per_customer_limit=1)
    data = order_form(shop["ada"], (shop["kettle"], 1), coupon_code="ONCE")
    assert submit(client, "/admin/order/new/", data).status_code == 302
    again = submit(client, "/admin/order/new/", data)
    assert "used the code ONCE already" in " ".join(
        field_errors(again.get_data(as_text=True), "coupon_code")
    )
    assert count_rows(Order) == 1
    other = order_form(shop["bob"], (shop["kettle"], 1), coupon_code="ONCE")
    assert submit(client, "/admin/order/new/", other).status_code == 302
    assert uses("ONCE") == (2, {shop["ada"].id: 1, shop["bob"].id: 1})


def edit(client, order: Order, data: dict):
    for i, line in enumerate(order.lines):
        data.setdefault(f"lines-{i}-id", str(line.id))
    return submit(client, f"/admin/order/edit/?id={order.id}", data)


def test_changing_or_removing_the_code_gives_its_use_back(client, clerk, shop):
    promotion("FIRST", usage_limit=1)
    promotion("SECOND", kind="fixed", value="5.00", usage_limit=1)
    data = order_form(shop["ada"], (shop["kettle"], 1), coupon_code="FIRST")
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    assert uses("FIRST") == (1, {shop["ada"].id: 1})

    # Saving again with the same code (another quantity) takes no second use.
    response = edit(
        client, order, order_form(shop["ada"], (shop["kettle"], 2), coupon_code="first")
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert uses("FIRST") == (1, {shop["ada"].id: 1})
    assert the_order().discount_total == D("7.98")

    response = edit(
        client, order, order_form(shop["ada"], (shop["kettle"], 2), coupon_code="SECOND")
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert uses("FIRST") == (0, {}) and uses("SECOND") == (1, {shop["ada"].id: 1})
    assert the_order().discount_total == D("5.00")

    # The customer changes: the per-customer use moves with the order.
    response = edit(
        client, order, order_form(shop["bob"], (shop["kettle"], 2), coupon_code="SECOND")
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert uses("SECOND") == (1, {shop["bob"].id: 1})

    response = edit(client, order, order_form(shop["bob"], (shop["kettle"], 2), coupon_code=""))
    assert response.status_code == 302
    order = the_order()
    assert uses("SECOND") == (0, {})
    assert (order.coupon_code, order.promotion_id, order.discount_total) == (None, None, 0)


def test_a_held_code_stays_when_it_expires_but_a_refused_change_keeps_everything(
    client, clerk, shop
):
    held = promotion("HELD", minimum_subtotal=D("30.00"), usage_limit=1)
    data = order_form(shop["ada"], (shop["kettle"], 1), coupon_code="HELD")
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    held.valid_until = now_plus(-1)
    db.session.commit()
    response = edit(client, order, order_form(shop["ada"], (shop["kettle"], 3), coupon_code="HELD"))
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert the_order().discount_total == D("11.97")
    # Below the code's minimum: refused on the field, the order as it was.
    version = the_order().version
    response = edit(
        client, the_order(), order_form(shop["ada"], (shop["tea"], 1), coupon_code="HELD")
    )
    assert "at least €30.00" in " ".join(
        field_errors(response.get_data(as_text=True), "coupon_code")
    )
    order = the_order()
    assert order.version == version and [line.sku for line in order.lines] == ["KET-1"]
    assert uses("HELD") == (1, {shop["ada"].id: 1})


def test_an_order_from_before_promotion_codes_keeps_its_text_and_total(client, clerk, shop):
    data = order_form(shop["ada"], (shop["book"], 1))
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    order.coupon_code = "WINTER-2024"  # as the migration leaves such orders: text only
    db.session.commit()
    response = edit(
        client, order, order_form(shop["ada"], (shop["book"], 2), coupon_code="WINTER-2024")
    )
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    order = the_order()
    assert (order.coupon_code, order.promotion_id, order.total) == ("WINTER-2024", None, D("24"))
    # Typing another code now needs a real one.
    response = edit(client, order, order_form(shop["ada"], (shop["book"], 2), coupon_code="NEW"))
    assert "There is no promotion code NEW" in " ".join(
        field_errors(response.get_data(as_text=True), "coupon_code")
    )


def test_only_active_shipping_methods_are_offered_and_an_order_keeps_its_own(client, clerk, shop):
    data = order_form(shop["ada"], (shop["kettle"], 1), shipping=shop["courier"])
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    courier = db.session.get(ShippingMethod, shop["courier"].id)
    courier.active = False
    db.session.commit()

    new_page = parse(client.get("/admin/order/new/").get_data(as_text=True))
    offered = {text_of(o) for o in new_page.select("select[name=shipping_method] option")}
    assert "Courier" not in offered and "Post" in offered
    refused = submit(client, "/admin/order/new/", data)
    assert "Not a valid choice" in " ".join(
        field_errors(refused.get_data(as_text=True), "shipping_method")
    )
    assert count_rows(Order) == 1

    edit_page = parse(client.get(f"/admin/order/edit/?id={order.id}").get_data(as_text=True))
    offered = {text_of(o) for o in edit_page.select("select[name=shipping_method] option")}
    assert "Courier" in offered
    response = edit(client, order, order_form(shop["ada"], (shop["kettle"], 2), shipping=courier))
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert the_order().shipping_total == D("12.00")


def test_the_line_form_takes_no_sku_name_price_or_tax(client, clerk, shop):
    data = order_form(
        shop["ada"],
        (shop["kettle"], 1),
        **{
            "lines-0-sku": "FAKE",
            "lines-0-name": "Fake",
            "lines-0-tax_rate": "0",
            "lines-0-tax_name": "none",
            "lines-0-unit_price": "0.01",
            "subtotal": "0",
            "tax_total": "0",
            "discount_total": "39.90",
        },
    )
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    [line] = order.lines
    assert (line.sku, line.name, line.unit_price, line.tax_rate, line.tax_name) == (
        "KET-1",
        "Kettle",
        D("39.90"),
        D("20.00"),
        "Standard",
    )
    assert (order.discount_total, order.tax_total) == (0, D("7.98"))
    form = parse(client.get(f"/admin/order/edit/?id={order.id}").get_data(as_text=True))
    names = {field["name"] for field in form.select("[name^=lines-0-]")}
    assert names == {"lines-0-id", "lines-0-product", "lines-0-quantity"}


@pytest.mark.parametrize("quantity", ["0", "1000001"])
def test_a_quantity_out_of_range_is_refused_on_its_field(client, clerk, shop, quantity):
    data = order_form(shop["ada"], (shop["kettle"], quantity))
    response = submit(client, "/admin/order/new/", data)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), "lines-0-quantity")
    assert any("at least 1 and at most 1,000,000" in error for error in errors), errors
    assert count_rows(Order) == 0


def order_page_lines(client, order_id: int) -> list[str]:
    page = parse(client.get(f"/admin/order/details/?id={order_id}").get_data(as_text=True))
    return [text_of(row) for row in page.select("table.order-lines tr, table.order-taxes tr")]


def export_row(client, number: str) -> dict:
    rows = list(
        csv.reader(io.StringIO(export(client, "/admin/order/export/csv/").get_data(as_text=True)))
    )
    header, *data = rows
    return next(dict(zip(header, row, strict=True)) for row in data if row[0] == number)


def test_catalogue_changes_after_an_order_change_nothing_it_shows(client, auth, shop):
    auth.login_as("manager")
    promotion("TEN")
    data = order_form(
        shop["ada"], (shop["kettle"], 2), (shop["tea"], 3), coupon_code="TEN", shipping=shop["post"]
    )
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = the_order()
    page, mail = order_page_lines(client, order.id), db.session.scalar(select(OutboxMessage))
    exported = export_row(client, order.number)
    assert "KET-1 Kettle 2 €39.90 20.00 % €79.80" in page
    assert "2 x Kettle (KET-1)" in mail.body_text

    kettle = db.session.get(Product, shop["kettle"].id)
    kettle.name, kettle.sku, kettle.unit_price = "Kettle Mk II", "KET-2", D("59.00")
    kettle.tax_rate = shop["reduced"]
    standard = db.session.merge(shop["standard"])
    standard.rate, standard.name = D("25.00"), "Standard (new)"
    db.session.commit()

    assert order_page_lines(client, order.id) == page
    assert export_row(client, order.number) == exported
    # An e-mail sent after the change (approval) still shows the order as taken.
    auth.logout()
    from console.services import workflow
    from tests.factories import StaffFactory

    workflow.approve(db.session, order.id, StaffFactory(email="boss@staff.test", role="manager"))
    approved = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()[-1]
    # Each mail's link to the order's page carries a token of the second it was written.
    assert without_link_tokens(approved.body_text.split("Order ", 1)[1]) == without_link_tokens(
        mail.body_text.split("Order ", 1)[1]
    )


def without_link_tokens(text: str) -> str:
    return re.sub(r"/order-status/[^/\s]+", "/order-status/<token>", text)
