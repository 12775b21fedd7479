"""In Chromium: choosing the order's customer fills the address pickers.

What only a browser checks: addresses.js reads the customer's address book when the
Select2 customer picker changes, under the console's Content-Security-Policy, lists
the addresses in both pickers with the defaults chosen, shows the chosen address in
the fields, and the order keeps the address picked.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from console.database import db
from console.models import CustomerAddress, Order, PostalAddress
from tests.factories import CustomerFactory, StaffFactory, catalogue
from tests.helpers import STAFF_PASSWORD

# One backend is enough to drive the pages; the browser is the slow part.
pytestmark = pytest.mark.postgres


def test_choosing_the_customer_fills_the_address_pickers(app, browser, live_server, screenshot):
    StaffFactory(email="clerk@staff.test", role="clerk")
    CustomerFactory(email="someone@example.com", first_name="Zed", last_name="Other")
    customer, products = catalogue({"KET-1": 10})
    home = CustomerAddress(
        customer=customer,
        name="Ada Lovelace",
        line1="12 Rue de la République",
        postal_code="69002",
        city="Lyon",
        country="FR",
        is_default_billing=True,
    )
    office = CustomerAddress(
        customer=customer,
        name="Ada Lovelace",
        company="Analytical Engines Ltd",
        line1="1 Korenmarkt",
        postal_code="9000",
        city="Ghent",
        country="BE",
        is_default_shipping=True,
    )
    db.session.add_all([home, office])
    db.session.commit()
    home_id, office_id, customer_id = home.id, office.id, customer.id

    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto("/login")
    page.fill("input[name=email]", "clerk@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto("/admin/order/new/")
    assert page.locator("#shipping_pick option").count() == 2  # no customer chosen yet
    page.click("#s2id_customer a.select2-choice")
    page.fill("#select2-drop input.select2-input", "ada")
    results = page.locator("#select2-drop .select2-result-selectable")
    results.filter(has_text=re.compile("ada@example.com")).first.click()
    # Polled from here: a predicate polled inside the page would need eval, which the
    # console's CSP refuses.
    expect(page.locator("body")).to_have_attribute("data-address-book", str(customer_id))

    assert page.input_value("#billing_pick") == str(home_id)
    assert page.input_value("#shipping_pick") == str(office_id)
    assert page.locator("#shipping_pick option").count() == 4
    assert page.input_value("#shipping_company") == "Analytical Engines Ltd"
    assert page.input_value("#shipping_country") == "BE"
    assert page.input_value("#billing_city") == "Lyon"

    # Picking another address of the book shows it; typing switches to a one-off.
    page.select_option("#shipping_pick", str(home_id))
    assert page.input_value("#shipping_city") == "Lyon"
    page.select_option("#billing_pick", str(office_id))
    page.fill("#billing_line2", "Second floor")
    assert page.input_value("#billing_pick") == "typed"

    page.click("#lines-button")
    page.click("#s2id_lines-0-product a.select2-choice")
    page.fill("#select2-drop input.select2-input", "KET-1")
    page.locator("#select2-drop .select2-result-selectable").filter(has_text="KET-1").first.click()
    page.fill("#lines-0-quantity", "2")
    screenshot(page, "order-addresses")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector("text=Record was successfully created.")

    db.session.expire_all()
    order = db.session.scalars(select(Order)).one()
    assert order.shipping_address == home.postal()
    assert order.billing_address == PostalAddress(
        name="Ada Lovelace",
        company="Analytical Engines Ltd",
        line1="1 Korenmarkt",
        line2="Second floor",
        postal_code="9000",
        city="Ghent",
        country="BE",
    )
    assert problems == [], problems
    context.close()


def test_clerk_adds_an_address_on_the_customers_page(app, browser, live_server, screenshot):
    """The address book's "Add Address" button works under the console's CSP."""
    StaffFactory(email="clerk@staff.test", role="clerk")
    customer = CustomerFactory(address="12 St James's Square, London")
    customer_id = customer.id

    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto("/login")
    page.fill("input[name=email]", "clerk@staff.test")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto(f"/admin/customer/edit/?id={customer_id}")
    assert "12 St James's Square, London" in page.inner_text("#legacy-address")
    page.click("#addresses-button")
    page.fill("#addresses-0-name", "Ada Lovelace")
    page.fill("#addresses-0-line1", "12 St James's Square")
    page.fill("#addresses-0-postal_code", "SW1Y 4JH")
    page.fill("#addresses-0-city", "London")
    page.select_option("#addresses-0-country", "GB")
    page.check("#addresses-0-is_default_shipping")
    screenshot(page, "customer-address-book")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector("text=Record was successfully saved.")

    db.session.expire_all()
    (address,) = db.session.scalars(select(CustomerAddress)).all()
    assert (address.city, address.country) == ("London", "GB")
    assert (address.is_default_billing, address.is_default_shipping) == (False, True)
    assert problems == [], problems
    context.close()
