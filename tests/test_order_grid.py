"""The order form's line grid on the server: what the page renders, what a form posted
without a script saves, and the figures the preview writes for the grid to show.

The grid is only a rendering of Flask-Admin's inline line fields
(templates/admin/order/_line_grid.html): the same names go in and out, so a browser
without JavaScript saves the same order. The browser side (keys, live figures, layout)
is tests/test_order_grid_browser.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Order
from tests.factories import OrderFactory
from tests.helpers import csrf_token_from, form_fields, parse, text_of
from tests.pricing_support import order_form, priced_shop, promotion


@pytest.fixture
def shop(app):
    return priced_shop()


def grid_rows(html: str) -> list:
    return parse(html).select("#order-entry #lines .inline-field-list > .order-line")


def test_the_edit_page_shows_each_line_as_a_row_of_the_grid(client, auth, shop):
    order = OrderFactory(customer=shop["ada"], lines={shop["kettle"]: 1, shop["tea"]: 2})
    auth.login_as("clerk")
    html = client.get(f"/admin/order/edit/?id={order.id}").get_data(as_text=True)
    soup = parse(html)
    entry = soup.select_one("#order-entry")
    assert entry["data-preview-url"] == "/admin/order/preview"
    assert entry["data-order-id"] == str(order.id)
    rows = grid_rows(html)
    assert len(rows) == 2
    for index, (row, line) in enumerate(zip(rows, order.lines, strict=True)):
        names = {field["name"] for field in row.find_all("input", attrs={"name": True})}
        assert names == {
            f"lines-{index}-id",
            f"lines-{index}-product",
            f"lines-{index}-quantity",
            f"del-lines-{index}",
        }
        assert row.select_one(f"#lines-{index}-id")["value"] == str(line.id)
        assert row.select_one(f"#lines-{index}-quantity")["value"] == str(line.quantity)
        # A screen reader hears which line a Remove box removes.
        removal = row.select_one(f"label[for=del-lines-{index}]")
        assert text_of(removal) == f"Remove line {index + 1}"
        # The figures are the server's: empty cells the script fills from the preview.
        assert [cell["data-figure"] for cell in row.select("[data-figure]")] == [
            "unit_price",
            "tax_rate",
            "line_total",
            "stock",
        ]
    hint = text_of(soup.select_one("#lines-hint"))
    assert "Alt + N" in hint and "Alt + Delete" in hint
    scripts = [tag["src"] for tag in soup.find_all("script", src=True)]
    assert "/static/js/order-grid.js" in scripts
    assert soup.find("script", src="/static/js/order-grid.js").has_attr("nonce")
    # Without a script there are no figures to show: the box waits for order-grid.js.
    assert soup.select_one("#order-grid-totals").has_attr("hidden")
    # No inline handler on the grid (the console's CSP allows only Flask-Admin's own).
    assert not soup.select("#lines [onclick], #order-grid-totals [onclick]")


def test_the_new_order_page_has_the_grid_and_its_empty_line_template(client, auth, shop):
    auth.login_as("clerk")
    html = client.get("/admin/order/new/").get_data(as_text=True)
    soup = parse(html)
    assert soup.select_one("#order-entry")["data-order-id"] == ""
    assert grid_rows(html) == []
    template = parse(soup.select_one("#lines > .inline-field-template").get_text())
    names = {field["name"] for field in template.find_all("input", attrs={"name": True})}
    # Flask-Admin's form.js prefixes these with lines-<n>- when a line is added.
    assert names == {"id", "product", "quantity"}
    assert template.select_one(".order-line-remove")["type"] == "button"


def test_the_grid_posted_without_a_script_saves_the_changes(client, auth, shop):
    """A browser without JavaScript posts the grid's inputs as they are: a quantity
    changed, a stored line's Remove box ticked."""
    order = OrderFactory(customer=shop["ada"], lines={shop["kettle"]: 1, shop["tea"]: 2})
    auth.login_as("clerk")
    url = f"/admin/order/edit/?id={order.id}"
    html = client.get(url).get_data(as_text=True)
    assert len(grid_rows(html)) == 2
    data = form_fields(html)
    data["lines-0-quantity"] = "4"
    data["del-lines-1"] = "y"
    response = client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    saved = db.session.get(Order, order.id)
    assert [(line.sku, line.quantity) for line in saved.lines] == [("KET-1", 4)]
    assert saved.subtotal == Decimal("159.60")
    assert saved.total == saved.subtotal + saved.tax_total


def test_a_refused_save_shows_the_lines_message_under_the_grid(client, auth, shop):
    """What pricing refuses about the lines as a whole comes back under the grid, with
    the lines as typed."""
    auth.login_as("clerk")
    html = client.get("/admin/order/new/").get_data(as_text=True)
    data = {
        **order_form(shop["ada"], (shop["kettle"], 1), (shop["kettle"], 2)),
        "csrf_token": csrf_token_from(html),
        "submission": parse(html).find("input", attrs={"name": "submission"})["value"],
    }
    response = client.post("/admin/order/new/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert db.session.scalar(select(Order.id)) is None
    errors = text_of(parse(page).select_one("#lines-errors"))
    assert "Each product may appear on one line only" in errors
    assert [row.select_one("input[name$=-quantity]")["value"] for row in grid_rows(page)] == [
        "1",
        "2",
    ]


def test_the_preview_writes_the_figures_as_the_order_page_does(client, auth, shop):
    auth.login_as("clerk")
    promotion("TEN")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    body = {
        "customer_id": shop["ada"].id,
        "coupon_code": "ten",
        "shipping_method_id": shop["courier"].id,
        "lines": [
            {"product_id": shop["kettle"].id, "quantity": 30},
            {"product_id": shop["book"].id, "quantity": 3},
        ],
    }
    response = client.post("/admin/order/preview", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_json()
    quote = response.get_json()
    shown = quote["shown"]
    assert shown["subtotal"] == "€1,233.00"
    assert shown["discount_total"] == "-€123.30"
    assert shown["shipping_total"] == "€12.00"
    assert shown["total"] == f"€{Decimal(quote['total']):,.2f}"
    assert shown["tax_total_label"] == "Tax, all rates"
    assert [tax["label"] for tax in shown["taxes"]] == [
        "Tax Zero 0.00 % on €44.40",  # the books and the shipping
        "Tax Standard 20.00 % on €1,077.30",
    ]
    assert shown["lines"] == [
        {
            "unit_price": "€39.90",
            "tax_rate": "20.00 %",
            "line_total": "€1,197.00",
            "stock": "50",
        },
        {"unit_price": "€12.00", "tax_rate": "0.00 %", "line_total": "€36.00", "stock": "2"},
    ]
    assert [(line["stock"], line["short"]) for line in quote["lines"]] == [(50, False), (2, True)]


@pytest.mark.parametrize(
    "included",
    [
        pytest.param(False, id="tax-added"),
        pytest.param(
            True, id="tax-included", marks=pytest.mark.settings(SHOP_PRICES_INCLUDE_TAX=True)
        ),
    ],
)
def test_the_preview_names_the_tax_as_the_shop_prices(client, auth, shop, included):
    """Without a code the discount reads 0.00 with no sign; with prices that include tax
    the tax is written "Tax included", as on the order's page."""
    auth.login_as("clerk")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    body = {
        "customer_id": shop["ada"].id,
        "lines": [{"product_id": shop["kettle"].id, "quantity": 1}],
    }
    response = client.post("/admin/order/preview", json=body, headers={"X-CSRFToken": token})
    shown = response.get_json()["shown"]
    assert shown["discount_total"] == "€0.00"
    word = "Tax included" if included else "Tax"
    assert shown["tax_total_label"] == f"{word}, all rates"
    base = "33.25" if included else "39.90"
    assert [tax["label"] for tax in shown["taxes"]] == [f"{word} Standard 20.00 % on €{base}"]
