"""In Chromium: a phone order taken on the order grid, from the keyboard, to the cent.

What only a browser checks: static/js/order-grid.js adds and removes lines from the
keyboard under the console's Content-Security-Policy, asks the server for the figures
as the clerk types and shows them (with short-stock flags and field messages) before
anything is saved; the saved order page, the "we received your order" e-mail taken
from a real SMTP server and the CSV export then show the same figures as the grid; and
the page has no sideways scroll at 1366 px nor on a 390 px phone.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from console.database import db
from console.models import CustomerAddress, Order
from console.notify.dispatcher import deliver_due
from tests.factories import OrderFactory, PromotionFactory, StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import STAFF_PASSWORD, parse, text_of
from tests.pricing_support import priced_shop
from tests.test_journeys import pick

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = [pytest.mark.postgres, pytest.mark.settings(**mail_relay())]

PREVIEW = "**/admin/order/preview"
FIGURES = ("subtotal", "discount_total", "shipping_total", "tax_total", "total")


@pytest.fixture
def shop(app):
    shop = priced_shop()
    db.session.add_all(
        [
            CustomerAddress(
                customer=shop["ada"],
                name="Ada Lovelace",
                line1="12 Rue de la République",
                postal_code="69002",
                city="Lyon",
                country="FR",
                is_default_billing=True,
                is_default_shipping=True,
            )
        ]
    )
    db.session.commit()
    StaffFactory(email="clerk@staff.test", role="clerk")
    StaffFactory(email="viewer@staff.test", role="viewer")
    return shop


@pytest.fixture
def open_page(browser, live_server):
    """``open_page(role)``: a fresh browser window signed in as ``role``; CSP and script
    errors of every window are collected in ``open_page.problems``."""
    contexts = []
    problems: list[str] = []

    def open_(role: str):
        context = browser.new_context(
            base_url=live_server, accept_downloads=True, viewport={"width": 1366, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                problems.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.goto("/login")
        page.fill("input[name=email]", f"{role}@staff.test")
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.click("[type=submit]")
        page.wait_for_url("**/admin/")
        return page

    open_.problems = problems
    yield open_
    for context in contexts:
        context.close()


def type_line(page, sku: str, quantity: str) -> None:
    """With a new line's product search open: type the SKU, take it with Enter, Tab to
    the quantity and type it, as a clerk on the phone does."""
    search = page.locator("#select2-drop input.select2-input")
    expect(search).to_be_focused()
    page.keyboard.type(sku)
    # Enter takes the highlighted result: wait until the look-up has answered.
    expect(page.locator("#select2-drop .select2-highlighted", has_text=sku)).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type(quantity)


def save_new_order(page) -> Order:
    """Press Save on the new order's form; the order as stored."""
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector("text=Record was successfully created.")
    db.session.expire_all()
    return db.session.scalars(select(Order)).one()


def remove_line_with_keys(page, quantity: str) -> dict:
    """Alt+Delete in the line of input ``quantity``; the preview that followed."""
    page.focus(quantity)
    with page.expect_response(PREVIEW) as answer:
        page.keyboard.press("Alt+Delete")
    quote = answer.value.json()
    expect(page.locator("#grid-total-value")).to_have_text(quote["shown"]["total"])
    return quote


def grid_figures(page) -> dict[str, Decimal]:
    """The totals the grid shows, as the amounts the server sent with them."""
    return {
        name: Decimal(page.get_attribute(f"#order-grid-totals [data-total={name}]", "data-amount"))
        for name in FIGURES
    }


def amount(text: str) -> Decimal:
    """``"-€1,234.50"`` -> ``Decimal("1234.50")`` (the sign is the row's label)."""
    match = re.search(r"([0-9][0-9,]*\.[0-9]{2})", text)
    assert match, text
    return Decimal(match.group(1).replace(",", ""))


def page_figures(html: str) -> dict[str, Decimal]:
    """The totals of the saved order's page (templates/admin/order/_totals.html)."""
    soup = parse(html)

    def cell(selector: str) -> Decimal:
        found = soup.select_one(f"{selector} td")
        return amount(text_of(found)) if found else Decimal("0.00")

    return {
        "subtotal": cell("#totals-subtotal"),
        "discount_total": cell("#totals-discount"),
        "shipping_total": cell("#totals-shipping"),
        "tax_total": sum(
            (amount(text_of(row.find("td"))) for row in soup.select("#order-totals .totals-tax")),
            Decimal("0.00"),
        ),
        "total": cell("#totals-total"),
    }


def mail_figures(text: str) -> dict[str, Decimal]:
    """The totals of an order e-mail's text part (templates/email/_lines.txt)."""

    def line(pattern: str) -> Decimal:
        match = re.search(rf"^\s*{pattern}.*?: -?€([0-9][0-9,]*\.[0-9]{{2}})(?![0-9])", text, re.M)
        return Decimal(match.group(1).replace(",", "")) if match else Decimal("0.00")

    taxes = re.findall(
        r"^\s*Tax(?: included)? .*? %: €([0-9][0-9,]*\.[0-9]{2})(?![0-9])", text, re.M
    )
    return {
        "subtotal": line("Subtotal"),
        "discount_total": line("Discount"),
        "shipping_total": line("Shipping"),
        "tax_total": sum((Decimal(t.replace(",", "")) for t in taxes), Decimal("0.00")),
        "total": line("Total"),
    }


def no_sideways_scroll(page) -> None:
    """The page does not scroll sideways and no grid cell reaches past its right edge."""
    width, client = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert width <= client, (width, client)
    right = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll("
        "'.order-line-cell, #order-grid-totals, .order-grid-add')).map("
        "(e) => e.getBoundingClientRect().right))"
    )
    assert right <= client, (right, client)


def test_a_phone_order_taken_on_the_grid_matches_page_mail_and_export(
    shop, open_page, smtp_server, screenshot
):
    PromotionFactory(code="PHONE10")
    clerk = open_page("clerk")
    clerk.goto("/admin/order/new/")
    pick(clerk, "customer", "ada")
    expect(clerk.locator("body")).to_have_attribute("data-address-book", str(shop["ada"].id))
    assert clerk.input_value("#shipping_city") == "Lyon"

    # Three lines from the keyboard: Alt+N opens the first line's product search,
    # Enter in the last quantity adds the next line.
    clerk.focus("#coupon_code")
    clerk.keyboard.press("Alt+n")
    type_line(clerk, "KET-1", "2")
    clerk.keyboard.press("Enter")
    type_line(clerk, "TEA-1", "3")
    clerk.keyboard.press("Enter")
    type_line(clerk, "BOOK-1", "1")
    rows = clerk.locator("#lines .inline-field-list > .order-line")
    expect(rows).to_have_count(3)
    expect(clerk.locator("#order-grid-totals")).to_have_attribute("data-state", "done")
    expect(clerk.locator("#lines-2 [data-figure=line_total] .order-line-value")).to_have_text(
        "€12.00"
    )
    expect(clerk.locator("#lines-0 [data-figure=unit_price] .order-line-value")).to_have_text(
        "€39.90"
    )
    expect(clerk.locator("#lines-0 [data-figure=tax_rate] .order-line-value")).to_have_text(
        "20.00 %"
    )
    expect(clerk.locator("#lines-2 [data-figure=stock] .order-line-value")).to_have_text("2")
    before = clerk.text_content("#grid-total-value")

    # A quantity typed changes the total, as the server computes it.
    with clerk.expect_response(PREVIEW) as answer:
        clerk.fill("#lines-0-quantity", "3")
    quote = answer.value.json()
    expect(clerk.locator("#grid-total-value")).to_have_text(quote["shown"]["total"])
    assert quote["shown"]["total"] != before and quote["lines"][0]["quantity"] == 3

    # A code that does not exist is refused under the code field; the real one applies.
    clerk.fill("#coupon_code", "NOPE")
    expect(clerk.locator(".form-group:has(#coupon_code) .order-grid-feedback")).to_have_text(
        re.compile("There is no promotion code NOPE")
    )
    clerk.fill("#coupon_code", "phone10")
    expect(clerk.locator("#grid-discount [data-total-label]")).to_have_text("(PHONE10)")
    expect(clerk.locator(".form-group:has(#coupon_code) .order-grid-feedback")).to_have_count(0)

    clerk.click("#s2id_shipping_method a.select2-choice")
    clerk.locator("#select2-drop .select2-result-selectable", has_text="Courier").click()
    expect(clerk.locator("#order-grid-totals [data-total=shipping_total]")).to_have_text("€12.00")
    expect(clerk.locator("#order-grid-totals")).to_have_attribute("data-state", "done")
    shown = grid_figures(clerk)
    assert shown["discount_total"] > 0 and shown["tax_total"] > 0
    assert (
        shown["subtotal"] - shown["discount_total"] + shown["shipping_total"] + shown["tax_total"]
        == shown["total"]
    )
    no_sideways_scroll(clerk)
    screenshot(clerk, "grid-1366")
    for width in (390, 800, 1024):  # a phone, a tablet, a small laptop
        clerk.set_viewport_size({"width": width, "height": 844})
        no_sideways_scroll(clerk)
        screenshot(clerk, f"grid-{width}")
    clerk.set_viewport_size({"width": 1366, "height": 900})

    order = save_new_order(clerk)
    assert sorted((line.sku, line.quantity) for line in order.lines) == [
        ("BOOK-1", 1),
        ("KET-1", 3),
        ("TEA-1", 3),
    ]
    assert {name: getattr(order, name) for name in FIGURES} == shown

    # The saved order's page.
    clerk.goto(f"/admin/order/details/?id={order.id}")
    assert page_figures(clerk.content()) == shown
    screenshot(clerk, "grid-saved-order")

    # The "we received your order" e-mail, as the SMTP server got it.
    deliver_due()
    (received,) = [m for _, m in smtp_server.messages if "we received your order" in m["Subject"]]
    text = received.get_body(preferencelist=("plain",)).get_content()
    assert mail_figures(text) == shown, text

    # The order export, read back as CSV.
    viewer = open_page("viewer")
    viewer.goto("/admin/order/", wait_until="load")
    viewer.click(".export-menu a.dropdown-toggle")
    with viewer.expect_download() as download:
        viewer.click(".export-menu button.dropdown-item:text-is('CSV')")
    rows_read = list(
        csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8")))
    )
    (row,) = [r for r in rows_read if r["Order"] == order.number]
    exported = {
        "subtotal": Decimal(row["Subtotal"]),
        "discount_total": Decimal(row["Discount"]),
        "shipping_total": Decimal(row["Shipping"]),
        "tax_total": Decimal(row["Tax"]),
        "total": Decimal(row["Total"]),
    }
    assert exported == shown, row
    assert open_page.problems == [], open_page.problems


def test_short_stock_is_flagged_and_alt_delete_removes_a_line(shop, open_page, screenshot):
    clerk = open_page("clerk")
    clerk.goto("/admin/order/new/")
    pick(clerk, "customer", "ada")
    clerk.focus("#lines-button")
    clerk.keyboard.press("Enter")  # the Add line button, from the keyboard
    type_line(clerk, "KET-1", "1")
    clerk.keyboard.press("Enter")
    type_line(clerk, "BOOK-1", "3")  # two in stock
    flag = clerk.locator("#lines-1 .order-line-flag-short")
    expect(flag).to_have_text("Short: 2 in stock")
    expect(clerk.locator("#lines-0 .order-line-flag-short")).to_have_count(0)
    screenshot(clerk, "grid-short-stock")
    with_book = clerk.text_content("#grid-total-value")

    # A quantity the server refuses gets its message on the quantity, and no figures.
    clerk.fill("#lines-0-quantity", "0")
    expect(clerk.locator(".form-group:has(#lines-0-quantity) .order-grid-feedback")).to_have_text(
        re.compile("at least 1")
    )
    expect(clerk.locator("#grid-total-value")).to_have_text("")
    clerk.fill("#lines-0-quantity", "1")
    expect(clerk.locator("#grid-total-value")).to_have_text(with_book)
    expect(clerk.locator(".order-grid-feedback")).to_have_count(0)

    quote = remove_line_with_keys(clerk, "#lines-1-quantity")
    assert [line["sku"] for line in quote["lines"]] == ["KET-1"]
    expect(clerk.locator("#lines .order-line")).to_have_count(1)
    assert quote["shown"]["total"] != with_book
    expect(clerk.locator("#lines-0-quantity")).to_be_focused()

    # Saving still works with a short line (approval decides).
    clerk.focus("#lines-button")
    clerk.keyboard.press("Enter")  # the Add line button, from the keyboard
    type_line(clerk, "BOOK-1", "3")
    expect(clerk.locator("#lines-1 .order-line-flag-short")).to_have_count(1)
    order = save_new_order(clerk)
    assert sorted((line.sku, line.quantity) for line in order.lines) == [
        ("BOOK-1", 3),
        ("KET-1", 1),
    ]
    assert open_page.problems == [], open_page.problems


def test_the_edit_page_shows_the_figures_and_removes_a_stored_line(shop, open_page):
    order = OrderFactory(
        customer=shop["ada"], lines={shop["kettle"]: 1, shop["tea"]: 2}, actor=None
    )
    order_id, total = order.id, order.total
    shop["tea"].active = False  # retired since: the stored line keeps it, flagged
    db.session.commit()
    clerk = open_page("clerk")
    clerk.goto(f"/admin/order/edit/?id={order_id}")
    expect(clerk.locator("#order-grid-totals [data-total=total]")).to_have_attribute(
        "data-amount", f"{total:.2f}"
    )
    expect(clerk.locator("#lines-1 [data-figure=unit_price] .order-line-value")).to_have_text(
        "€4.35"
    )
    expect(clerk.locator("#lines-1 .order-line-flag-inactive")).to_have_text("Inactive product")
    expect(clerk.locator("#lines-0 .order-line-flag-inactive")).to_have_count(0)

    quote = remove_line_with_keys(clerk, "#lines-1-quantity")
    assert [line["sku"] for line in quote["lines"]] == ["KET-1"]
    assert clerk.is_checked("#del-lines-1")
    clerk.click("input[type=submit][value='Save']")
    clerk.wait_for_selector("text=Record was successfully saved.")
    db.session.expire_all()
    saved = db.session.get(Order, order_id)
    assert [line.sku for line in saved.lines] == ["KET-1"]
    assert f"{saved.total:.2f}" == quote["total"]
    assert open_page.problems == [], open_page.problems
