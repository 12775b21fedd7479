"""The stock ledger's pages: Adjust stock, the movements list, the product's figures,
and the product form that no longer writes stock. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Product, StockMovement
from console.services import stock, workflow
from console.services.stock import AdjustmentRow
from tests.audit_support import events, flashes, open_form, signed_in, staff_email
from tests.factories import OrderFactory, ProductFactory, StaffFactory, catalogue
from tests.helpers import csrf_token_from, export, parse, table_rows, text_of

ADJUST = "/admin/stock/adjust/"
MOVEMENTS = "/admin/stock/movements/"


def stock_of() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(select(Product.sku, Product.stock)).all())


def movement_count() -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(StockMovement.id)).all())


def post_adjustment(client, reason: str, rows: list[tuple[str, str]], note: str = ""):
    token = csrf_token_from(client.get(ADJUST).get_data(as_text=True))
    return client.post(
        ADJUST,
        data={
            "csrf_token": token,
            "reason": reason,
            "note": note,
            "sku": [sku for sku, _ in rows],
            "quantity": [quantity for _, quantity in rows],
        },
    )


@pytest.mark.parametrize("role", ["clerk", "viewer"])
def test_only_stock_adjust_opens_the_page(app, role):
    catalogue({"A": 5})
    client = signed_in(app, role)
    assert client.get(ADJUST).status_code == 403
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    forged = {"csrf_token": token, "reason": "received", "sku": "A", "quantity": "9"}
    assert client.post(ADJUST, data=forged).status_code == 403
    assert stock_of() == {"A": 5}


def test_a_manager_receives_several_products_at_once(app):
    catalogue({"A": 5, "B": 1})
    client = signed_in(app, "manager")
    page = post_adjustment(
        client, "received", [("a", "10"), ("B", "2"), ("", "")], note="Delivery 4711"
    )
    assert page.status_code == 302
    message = flashes(client.get(page.headers["Location"]))
    assert "Stock adjusted: A +10 (now 15), B +2 (now 3)." in message
    assert stock_of() == {"A": 15, "B": 3}
    [first, second] = events(action="adjust_stock")
    assert first.changes == {"stock": [5, 15]} and first.note == "Received: +10; Delivery 4711"
    assert first.actor_email == staff_email("manager") and second.record_label.startswith("B")


BAD_INPUT = [
    ("counted", [("A", "-1")], "Row 1 (A): a counted quantity cannot be below zero."),
    ("damaged", [("A", "6")], "A: 5 in stock, so 6 cannot be taken"),
    ("", [("A", "1")], "Choose the reason of the adjustment"),
    ("received", [("ZZZ", "1")], "Row 1: there is no product with the SKU 'ZZZ'."),
    ("received", [("A", "0")], "Row 1 (A): give the quantity received"),
    ("received", [("A", "two")], "Row 1: give the quantity as a whole number ('two' is not one)."),
    ("received", [("", "")], "Give at least one product"),
    # All or nothing: B's row is fine, A's is not, so B does not change either.
    ("damaged", [("B", "1"), ("A", "7")], "A: 5 in stock, so 7 cannot be taken"),
]


@pytest.mark.parametrize(("reason", "rows", "message"), BAD_INPUT)
def test_bad_input_is_told_and_changes_nothing(app, reason, rows, message):
    catalogue({"A": 5, "B": 5})
    client = signed_in(app, "manager")
    page = post_adjustment(client, reason, rows, note="kept")
    assert page.status_code == 200
    assert message in flashes(page)
    assert "Nothing was changed" in flashes(page)
    assert stock_of() == {"A": 5, "B": 5} and movement_count() == 2
    assert events(action="adjust_stock") == []
    # The form comes back as it was typed.
    html = parse(page.get_data(as_text=True))
    assert [i["value"] for i in html.select("input[name=sku]")][: len(rows)] == [
        sku for sku, _ in rows
    ]
    assert html.select_one("input[name=note]")["value"] == "kept"


def test_the_products_list_action_fills_in_the_selected_products(app):
    _, products = catalogue({"A": 5, "B": 5, "C": 5})
    client = signed_in(app, "manager")
    token = csrf_token_from(client.get("/admin/product/").get_data(as_text=True))
    page = client.post(
        "/admin/product/action/",
        data={
            "csrf_token": token,
            "action": "adjust_stock",
            "rowid": [str(products["C"].id), str(products["A"].id)],
        },
    )
    assert page.status_code == 200
    skus = [i["value"] for i in parse(page.get_data(as_text=True)).select("input[name=sku]")]
    assert skus[:3] == ["A", "C", ""]
    assert parse(page.get_data(as_text=True)).select_one("form#stock-adjust-form")["action"] == (
        ADJUST
    )


def test_a_forged_stock_on_the_product_form_changes_nothing(app):
    product = ProductFactory(sku="KET-1", stock=5)
    client = signed_in(app, "manager")
    url = f"/admin/product/edit/?id={product.id}"
    form = open_form(client, url)
    assert "stock" not in form
    form.update(stock="999", name="Kettle, steel")
    assert client.post(url, data=form).status_code == 302
    db.session.expire_all()
    stored = db.session.get(Product, product.id)
    assert (stored.name, stored.stock) == ("Kettle, steel", 5)
    assert movement_count() == 1


def test_a_new_products_initial_stock_is_received(app):
    client = signed_in(app, "manager")
    url = "/admin/product/new/"
    form = open_form(client, url)
    form.update(sku="NEW-1", name="New", unit_price="3.00", stock="12")
    assert client.post(url, data=form).status_code == 302
    moved = db.session.execute(
        select(StockMovement.reason, StockMovement.quantity, StockMovement.balance_after)
    ).all()
    assert moved == [("received", 12, 12)] and stock_of() == {"NEW-1": 12}
    assert stock.verify(db.session).mismatches == []


@pytest.fixture
def history(app):
    """KET-1 received 10, 3 reserved by an approved order, 1 damaged; LAMP-1 counted."""
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    manager = StaffFactory(email="boss@staff.test", role="manager")
    customer, products = catalogue({"KET-1": 10, "LAMP-1": 4})
    order = OrderFactory(customer=customer, lines={products["KET-1"]: 3}, actor=clerk)
    workflow.approve(db.session, order, manager)
    stock.adjust(db.session, manager, "damaged", [AdjustmentRow("KET-1", 1)], note="Dented")
    stock.adjust(db.session, manager, "counted", [AdjustmentRow("LAMP-1", 6)])
    return products, order


def test_the_product_page_shows_shelf_reserved_available_and_movements(app, history):
    products, order = history
    client = signed_in(app, "viewer")
    page = client.get(f"/admin/product/details/?id={products['KET-1'].id}")
    html = parse(page.get_data(as_text=True))
    assert text_of(html.select_one(".stock-on-hand")) == "9"
    assert text_of(html.select_one(".stock-reserved")) == "3"
    assert text_of(html.select_one(".stock-available")) == "6"
    rows = [
        [text_of(td) for td in tr.find_all("td")] for tr in html.select(".stock-movements tbody tr")
    ]
    assert [row[1:6] for row in rows] == [
        ["Damaged or lost", "-1", "6", "", "boss@staff.test"],
        ["Order reserved", "-3", "7", order.number, "boss@staff.test"],
        ["Received", "+10", "10", "", "(system)"],
    ]
    assert html.select_one(".stock-adjust-link") is None  # a viewer adjusts nothing
    link = html.select_one(".stock-movements-link")["href"]
    listed = table_rows(client.get(link).get_data(as_text=True))
    assert len(listed) == 3 and all("KET-1" in row for row in listed)


def test_the_movements_list_filters_by_reason_person_and_date(app, history):
    client = signed_in(app, "clerk")

    def listed(**query) -> list[tuple[str, str]]:
        page = client.get(MOVEMENTS, query_string=query)
        assert page.status_code == 200
        html = parse(page.get_data(as_text=True))
        return sorted(
            (text_of(tr.select_one("td.col-product")), text_of(tr.select_one("td.col-quantity")))
            for tr in html.select("table.model-list tr")
            if tr.select_one("td.col-product")
        )

    assert listed() == [
        ("KET-1", "+10"),
        ("KET-1", "-1"),
        ("KET-1", "-3"),
        ("LAMP-1", "+2"),
        ("LAMP-1", "+4"),
    ]
    assert listed(flt0_product_sku_is="lamp-1") == [("LAMP-1", "+2"), ("LAMP-1", "+4")]
    assert listed(flt0_reason_equals="counted") == [("LAMP-1", "+2")]
    assert listed(flt0_person_email_is="boss@staff.test") == [
        ("KET-1", "-1"),
        ("KET-1", "-3"),
        ("LAMP-1", "+2"),
    ]
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert listed(**{"flt0_when_utc_greater_than": tomorrow}) == []
    # Read-only: nobody may create, edit or delete a movement.
    admin = signed_in(app, "admin")
    assert admin.get(f"{MOVEMENTS}new/").status_code == 403
    assert admin.get(f"{MOVEMENTS}edit/?id=1").status_code == 403


def test_the_movements_export_as_csv(app, history):
    client = signed_in(app, "viewer")
    response = export(client, f"{MOVEMENTS}export/csv/?flt0_product_sku_is=KET-1")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "When (UTC),SKU,Product,Reason,Change,Stock after,Order,Who,Note"
    assert sorted(line.split(",")[3:6] for line in lines[1:]) == [
        ["damaged", "-1", "6"],
        ["received", "10", "10"],
        ["reserve", "-3", "7"],
    ]
