"""Addresses: the customer's address book, and the copy each order keeps.

The address book is edited inline on the customer's page, with one default billing and
one default shipping address. An order keeps a copy of the addresses chosen (or of
the customer's defaults when none was chosen), so that editing the address book later
changes no order page, no e-mail and no export.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from console.admin.addresses import CountryField
from console.database import db
from console.models import Customer, CustomerAddress, Order, OutboxMessage, PostalAddress
from console.services import workflow
from tests.factories import CustomerFactory, OrderFactory, StaffFactory, catalogue
from tests.helpers import (
    count_rows,
    export,
    flashed_errors,
    form_fields,
    parse,
    record_calls,
    submit,
    text_of,
)

HOME = {
    "name": "Ada Lovelace",
    "company": None,
    "line1": "12 Rue de la République",
    "line2": "3e étage",
    "postal_code": "69002",
    "city": "Lyon",
    "region": None,
    "country": "FR",
    "phone": "+33 4 00 00 00 00",
}
OFFICE = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "line1": "1 Korenmarkt",
    "line2": None,
    "postal_code": "9000",
    "city": "Ghent",
    "region": "East Flanders",
    "country": "BE",
    "phone": None,
}


def add_address(customer: Customer, values: dict, **flags: bool) -> CustomerAddress:
    address = CustomerAddress(customer=customer, **values, **flags)
    db.session.add(address)
    db.session.commit()
    return address


@pytest.fixture
def book(app):
    """Ada, with a home address (default of both kinds) and an office address."""
    customer, products = catalogue({"KET-1": 10})
    home = add_address(customer, HOME, is_default_billing=True, is_default_shipping=True)
    office = add_address(customer, OFFICE)
    return {"customer": customer, "home": home, "office": office, "kettle": products["KET-1"]}


def inline(index: int, values: dict, *, billing: bool = False, shipping: bool = False) -> dict:
    """The inline form fields of address number ``index`` of the customer form."""
    data = {f"addresses-{index}-{name}": value or "" for name, value in values.items()}
    if billing:
        data[f"addresses-{index}-is_default_billing"] = "y"
    if shipping:
        data[f"addresses-{index}-is_default_shipping"] = "y"
    return data


def customer_form(client, customer: Customer) -> dict:
    """The customer's edit form as a browser would post it back unchanged."""
    page = client.get(f"/admin/customer/edit/?id={customer.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    fields = form_fields(html)
    for select_ in parse(html).find_all("select", attrs={"name": True}):
        chosen = select_.find("option", selected=True)
        fields[select_["name"]] = chosen["value"] if chosen else ""
    return fields


def stored_addresses(customer_id: int) -> list[tuple]:
    db.session.expire_all()
    return [
        (a.city, a.country, a.is_default_billing, a.is_default_shipping)
        for a in db.session.scalars(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id == customer_id)
            .order_by(CustomerAddress.id)
        )
    ]


def order_form(customer: Customer, product, **extra: str) -> dict:
    data = {
        "customer": str(customer.id),
        "coupon_code": "",
        "lines-0-product": str(product.id),
        "lines-0-quantity": "1",
    }
    data.update(extra)
    return data


def typed(kind: str, values: dict) -> dict:
    return {f"{kind}_{name}": value or "" for name, value in values.items()}


def only_order() -> Order:
    db.session.expire_all()
    return db.session.scalars(select(Order)).one()


# --- the address book ----------------------------------------------------------------------


def test_clerk_adds_edits_and_removes_addresses(client, auth, app):
    auth.login_as("clerk")
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"

    added = submit(
        client,
        url,
        {
            **customer_form(client, customer),
            **inline(0, {**HOME, "name": "  Ada Lovelace  "}, billing=True, shipping=True),
            **inline(1, {**OFFICE, "country": " be "}),
        },
    )
    assert added.status_code == 302, flashed_errors(added.get_data(as_text=True))
    assert stored_addresses(customer.id) == [
        ("Lyon", "FR", True, True),
        ("Ghent", "BE", False, False),
    ]
    home, office = db.session.scalars(select(CustomerAddress).order_by(CustomerAddress.id))
    assert home.name == "Ada Lovelace"
    assert office.line2 is None and office.region == "East Flanders"

    details = client.get(f"/admin/customer/details/?id={customer.id}").get_data(as_text=True)
    book = text_of(parse(details).select_one(".address-book"))
    assert "12 Rue de la République" in book and "69002 Lyon" in book and "France" in book
    assert "default billing, default shipping" in book

    form = customer_form(client, customer)
    form["addresses-1-city"] = "Gent"
    form["del-addresses-0"] = "y"
    changed = submit(client, url, form)
    assert changed.status_code == 302, flashed_errors(changed.get_data(as_text=True))
    assert stored_addresses(customer.id) == [("Gent", "BE", False, False)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"country": "XX"}, "'XX' is not an ISO 3166 country code"),
        ({"country": "FRA"}, "'FRA' is not an ISO 3166 country code"),
        ({"country": ""}, "Choose the country."),
        ({"city": "   "}, "This field is required"),
        ({"name": ""}, "This field is required"),
        ({"postal_code": "x" * 21}, "longer than 20"),
    ],
)
def test_bad_address_is_refused_on_its_field(client, auth, app, change, message):
    auth.login_as("clerk")
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    response = submit(client, url, {**customer_form(client, customer), **inline(0, HOME | change)})
    assert response.status_code == 200
    errors = flashed_errors(response.get_data(as_text=True))
    assert any(message in error for error in errors), errors
    assert count_rows(CustomerAddress) == 0


def test_ticking_another_default_moves_it(client, auth, book):
    auth.login_as("clerk")
    customer = book["customer"]
    form = customer_form(client, customer)
    assert form.get("addresses-0-is_default_billing") == "y"
    form["addresses-1-is_default_shipping"] = "y"
    response = submit(client, f"/admin/customer/edit/?id={customer.id}", form)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert stored_addresses(customer.id) == [
        ("Lyon", "FR", True, False),
        ("Ghent", "BE", False, True),
    ]


def test_moving_a_default_to_an_older_address(client, auth, book):
    """The older row is written first: the default must be cleared on the newer one
    before, or the database's one-default index would refuse the save."""
    home, office = book["home"], book["office"]
    home.is_default_shipping = False
    db.session.flush()
    office.is_default_shipping = True
    db.session.commit()
    auth.login_as("clerk")
    customer = book["customer"]
    form = customer_form(client, customer)
    assert form.get("addresses-1-is_default_shipping") == "y"
    form["addresses-0-is_default_shipping"] = "y"
    response = submit(client, f"/admin/customer/edit/?id={customer.id}", form)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert stored_addresses(customer.id) == [
        ("Lyon", "FR", True, True),
        ("Ghent", "BE", False, False),
    ]


def test_two_new_defaults_of_a_kind_are_refused(client, auth, app):
    auth.login_as("clerk")
    customer = CustomerFactory()
    response = submit(
        client,
        f"/admin/customer/edit/?id={customer.id}",
        {
            **customer_form(client, customer),
            **inline(0, HOME, billing=True),
            **inline(1, OFFICE, billing=True),
        },
    )
    assert response.status_code == 200
    errors = " ".join(flashed_errors(response.get_data(as_text=True)))
    assert "Only one address can be the default billing address" in errors
    assert count_rows(CustomerAddress) == 0


def test_the_database_keeps_one_default_of_each_kind(book):
    add_address(book["customer"], OFFICE, is_default_shipping=False)
    with pytest.raises(IntegrityError):
        add_address(book["customer"], OFFICE, is_default_billing=True)
    db.session.rollback()
    with pytest.raises(IntegrityError):
        add_address(book["customer"], {**OFFICE, "country": "be"})
    db.session.rollback()
    # Another customer has defaults of their own.
    other = CustomerFactory(email="grace@example.com")
    add_address(other, OFFICE, is_default_billing=True, is_default_shipping=True)


def test_deleting_a_customer_deletes_the_address_book(client, auth, book):
    customer = CustomerFactory(email="no-orders@example.com")
    add_address(customer, HOME, is_default_billing=True)
    customer_id = customer.id
    auth.login_as("manager")
    page = client.get(f"/admin/customer/details/?id={customer_id}")
    token = form_fields(page.get_data(as_text=True))["csrf_token"]
    response = client.post(
        "/admin/customer/delete/", data={"id": str(customer_id), "csrf_token": token}
    )
    assert response.status_code == 302
    assert stored_addresses(customer_id) == []
    assert db.session.get(Customer, customer_id) is None
    assert len(stored_addresses(book["customer"].id)) == 2


def test_address_book_changes_are_in_the_customers_history(client, auth, book):
    from console.models import AuditEvent

    auth.login_as("clerk")
    customer = book["customer"]
    before = customer.version
    form = customer_form(client, customer)
    form["addresses-1-phone"] = "+32 9 000 00 00"
    submit(client, f"/admin/customer/edit/?id={customer.id}", form)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).version == before + 1
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.record_type == "customer_address")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event.parent_type == "customer" and event.parent_id == customer.id
    assert event.changes["phone"] == [None, "+32 9 000 00 00"]


# --- the JSON endpoint of the order form -----------------------------------------------------


def test_address_book_endpoint_lists_addresses_and_defaults(client, auth, book):
    auth.login_as("clerk")
    response = client.get(f"/admin/customer/{book['customer'].id}/addresses/")
    assert response.status_code == 200
    data = response.get_json()
    assert data["default_billing"] == data["default_shipping"] == book["home"].id
    assert [a["id"] for a in data["addresses"]] == [book["home"].id, book["office"].id]
    office = data["addresses"][1]
    assert office["fields"]["company"] == "Analytical Engines Ltd"
    assert office["fields"]["line2"] == ""
    assert office["label"].startswith("Ada Lovelace, Analytical Engines Ltd, 1 Korenmarkt")
    assert (office["default_billing"], office["default_shipping"]) == (False, False)


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("clerk", 200), ("manager", 200)])
def test_address_book_endpoint_is_for_those_who_take_orders(client, auth, book, role, status):
    auth.login_as(role)
    response = client.get(f"/admin/customer/{book['customer'].id}/addresses/")
    assert response.status_code == status
    if status == 403:
        assert "Lyon" not in response.get_data(as_text=True)


def test_address_book_endpoint_anonymous_and_unknown(client, auth, book):
    anonymous = client.get(f"/admin/customer/{book['customer'].id}/addresses/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    auth.login_as("clerk")
    assert client.get("/admin/customer/999999/addresses/").status_code == 404
    assert client.get(f"/admin/customer/{2**40}/addresses/").status_code == 404


# --- the order's copy ------------------------------------------------------------------------


def test_order_saved_without_a_choice_takes_the_defaults(client, auth, book):
    """Without JavaScript nothing is chosen: the server copies the customer's defaults."""
    auth.login_as("clerk")
    response = submit(client, "/admin/order/new/", order_form(book["customer"], book["kettle"]))
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    order = only_order()
    assert order.billing_address == PostalAddress(**HOME)
    assert order.shipping_address == PostalAddress(**HOME)


def test_order_keeps_the_addresses_chosen(client, auth, book):
    auth.login_as("clerk")
    one_off = {**HOME, "name": "Ada at the lab", "line1": "5 Quai Claude Bernard", "line2": ""}
    data = order_form(
        book["customer"],
        book["kettle"],
        billing_pick=str(book["office"].id),
        shipping_pick="typed",
        **typed("shipping", {**one_off, "country": "fr"}),
        # Fields below a picker that names an address of the book are ignored.
        **typed("billing", {**HOME, "city": "Ignored"}),
    )
    response = submit(client, "/admin/order/new/", data)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    order = only_order()
    assert order.billing_address == PostalAddress(**OFFICE)
    assert order.shipping_address == PostalAddress(**{**one_off, "line2": None})


def test_new_order_form_lists_the_customers_addresses_after_a_refusal(client, auth, book):
    auth.login_as("clerk")
    data = order_form(book["customer"], book["kettle"], **{"lines-0-quantity": "0"})
    page = submit(client, "/admin/order/new/", data).get_data(as_text=True)
    options = [o["value"] for o in parse(page).select("select#shipping_pick option")]
    assert options == ["", str(book["home"].id), str(book["office"].id), "typed"]


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"shipping_pick": "typed", **typed("shipping", {**HOME, "city": " "})},
            "shipping_city",
            "Required for a one-off shipping address.",
        ),
        (
            {"billing_pick": "typed", **typed("billing", {**HOME, "country": "ZZ"})},
            "billing_country",
            "'ZZ' is not an ISO 3166 country code",
        ),
        ({"billing_pick": "2147483648"}, "billing_pick", "Choose one of this customer's"),
        ({"shipping_pick": "nonsense"}, "shipping_pick", "Choose one of this customer's"),
    ],
)
def test_bad_order_address_is_refused_on_its_field(client, auth, book, extra, field, message):
    auth.login_as("clerk")
    response = submit(
        client, "/admin/order/new/", order_form(book["customer"], book["kettle"], **extra)
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    feedback = parse(html).select_one(f"#{field}").find_parent(class_="form-group")
    assert message in text_of(feedback), flashed_errors(html)
    assert count_rows(Order) == 0


def test_an_address_of_another_customer_cannot_be_chosen(client, auth, book):
    other = CustomerFactory(email="grace@example.com")
    theirs = add_address(other, OFFICE, is_default_billing=True)
    auth.login_as("clerk")
    data = order_form(book["customer"], book["kettle"], billing_pick=str(theirs.id))
    response = submit(client, "/admin/order/new/", data)
    assert response.status_code == 200
    assert count_rows(Order) == 0


def test_customer_without_addresses_gives_an_order_without_address(client, auth, app):
    customer, products = catalogue({"KET-1": 10})
    auth.login_as("clerk")
    response = submit(client, "/admin/order/new/", order_form(customer, products["KET-1"]))
    assert response.status_code == 302
    order = only_order()
    assert order.billing_address is None and order.shipping_address is None
    page = client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True)
    assert page.count("No address recorded") == 2


def test_saving_a_pending_order_again_keeps_its_addresses(client, auth, book):
    """The edit form offers the address kept; saving it unchanged keeps it, even when
    the customer's book changed meanwhile."""
    order = OrderFactory(customer=book["customer"], lines={book["kettle"]: 1})
    assert order.shipping_address == PostalAddress(**HOME)
    book["home"].city = "Villeurbanne"
    db.session.commit()

    auth.login_as("clerk")
    url = f"/admin/order/edit/?id={order.id}"
    page = client.get(url).get_data(as_text=True)
    chosen = parse(page).select_one("select#shipping_pick option[selected]")
    assert chosen["value"] == "typed"
    assert parse(page).select_one("#shipping_city")["value"] == "Lyon"
    data = {
        **order_form(book["customer"], book["kettle"]),
        "lines-0-id": str(order.lines[0].id),
        "billing_pick": "typed",
        "shipping_pick": "typed",
        **typed("billing", HOME),
        **typed("shipping", HOME),
    }
    response = submit(client, url, data)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert only_order().shipping_address == PostalAddress(**HOME)

    # Choosing the customer's default again copies the book as it is now.
    response = submit(client, url, {**data, "shipping_pick": ""})
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert only_order().shipping_address.city == "Villeurbanne"
    assert only_order().billing_address.city == "Lyon"


def test_addresses_of_a_decided_order_cannot_change(client, auth, book):
    order = OrderFactory(customer=book["customer"], lines={book["kettle"]: 1})
    workflow.approve(db.session, order, StaffFactory(email="boss@staff.test", role="manager"))
    auth.login_as("clerk")
    url = f"/admin/order/edit/?id={order.id}"
    page = client.get(url).get_data(as_text=True)
    assert parse(page).select_one("#not-editable") is not None
    data = {
        **order_form(book["customer"], book["kettle"]),
        "lines-0-id": str(order.lines[0].id),
        "shipping_pick": str(book["office"].id),
    }
    submit(client, url, data)
    assert only_order().shipping_address == PostalAddress(**HOME)


def test_old_orders_say_no_address_was_recorded(client, auth, book):
    order = OrderFactory(customer=book["customer"], lines={book["kettle"]: 1})
    order.keep_address("billing", None)
    order.keep_address("shipping", None)
    db.session.commit()
    auth.login_as("viewer")
    page = client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True)
    assert page.count("No address recorded") == 2


# --- the copy is what stays ----------------------------------------------------------------


def export_rows(client) -> list[dict]:
    response = export(client, "/admin/order/export/csv/")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_editing_the_address_book_changes_no_order_mail_or_export(client, auth, book):
    auth.login_as("clerk")
    data = order_form(book["customer"], book["kettle"], billing_pick=str(book["office"].id))
    assert submit(client, "/admin/order/new/", data).status_code == 302
    order = only_order()
    received = db.session.scalars(select(OutboxMessage)).one()
    assert "Shipping to:" in received.body_text
    assert "12 Rue de la République" in received.body_text
    assert "69002 Lyon" in received.body_text and "France" in received.body_text
    assert "12 Rue de la République" in received.body_html

    auth.logout()
    auth.login_as("manager")
    details_url = f"/admin/order/details/?id={order.id}"

    def shown() -> tuple[str, str]:
        page = parse(client.get(details_url).get_data(as_text=True))
        billing = page.find(id="order-billing-address")
        return text_of(billing), text_of(page.find(id="order-shipping-address"))

    page_before = shown()
    assert "Analytical Engines Ltd" in page_before[0] and "Lyon" in page_before[1]
    export_before = export_rows(client)
    shipping = {k: v for k, v in export_before[0].items() if k.startswith("Shipping ")}
    assert shipping == {
        "Shipping method": "",
        "Shipping name": "Ada Lovelace",
        "Shipping company": "",
        "Shipping line 1": "12 Rue de la République",
        "Shipping line 2": "3e étage",
        "Shipping postal code": "69002",
        "Shipping city": "Lyon",
        "Shipping region": "",
        "Shipping country": "FR",
        "Shipping phone": "'+33 4 00 00 00 00",  # a leading + is neutralised for spreadsheets
    }
    assert export_before[0]["Billing company"] == "Analytical Engines Ltd"

    # The customer moves; the clerk edits the address book.
    form = customer_form(client, book["customer"])
    form.update({"addresses-0-line1": "7 Place Bellecour", "addresses-1-city": "Antwerp"})
    edited = submit(client, f"/admin/customer/edit/?id={book['customer'].id}", form)
    assert edited.status_code == 302, flashed_errors(edited.get_data(as_text=True))
    assert stored_addresses(book["customer"].id)[1][0] == "Antwerp"

    assert shown() == page_before
    assert export_rows(client) == export_before
    db.session.expire_all()
    assert db.session.get(OutboxMessage, received.id).body_text == received.body_text

    # The next e-mail still shows the address the order was taken with.
    token = form_fields(client.get(details_url).get_data(as_text=True))["csrf_token"]
    client.post(
        f"/admin/order/{order.id}/do/approve/",
        data={"csrf_token": token, "version": str(only_order().version)},
    )
    approved = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "order_approved")
    ).one()
    assert "12 Rue de la République" in approved.body_text
    assert "7 Place Bellecour" not in approved.body_text


def test_mail_of_an_order_without_address_has_no_shipping_part(app, book):
    customer = CustomerFactory(email="grace@example.com")
    OrderFactory(customer=customer, lines={book["kettle"]: 1})
    mail = db.session.scalars(select(OutboxMessage)).one()
    assert "Shipping to" not in mail.body_text
    assert "Total:" in mail.body_text


def test_each_order_form_selects_its_own_countries(client, auth, book):
    """The country lists' options are rendered once per process (``CountrySelect``):
    each form still selects its own countries, escaped as WTForms writes them."""
    in_france = OrderFactory(customer=book["customer"], lines={book["kettle"]: 1})
    belgian = CustomerFactory(email="be@example.com")
    add_address(belgian, OFFICE, is_default_billing=True, is_default_shipping=True)
    in_belgium = OrderFactory(customer=belgian, lines={book["kettle"]: 1})
    auth.login_as("clerk")

    for order, country in ((in_france, "FR"), (in_belgium, "BE"), (in_france, "FR")):
        page = parse(client.get(f"/admin/order/edit/?id={order.id}").get_data(as_text=True))
        for kind in ("billing", "shipping"):
            options = page.select(f"select#{kind}_country option")
            assert len(options) == 250
            assert [o["value"] for o in options if o.has_attr("selected")] == [country]
            assert options[0]["value"] == "" and text_of(options[0]) == "Choose a country"
    side = page.select_one("select#billing_country option[value='CI']")
    assert text_of(side) == "Côte d'Ivoire (CI)"
    assert "Côte d&#39;Ivoire (CI)</option>" in client.get(
        f"/admin/order/edit/?id={in_france.id}"
    ).get_data(as_text=True)


def test_country_lists_are_written_without_reading_their_250_choices(
    client, auth, book, monkeypatch
):
    """An order form's two country lists come from the options kept once written, with
    the form's country marked: WTForms does not read and wrap the 250 choices again."""
    order = OrderFactory(customer=book["customer"], lines={book["kettle"]: 1})
    auth.login_as("clerk")
    read = record_calls(monkeypatch, CountryField, "iter_choices")
    page = parse(client.get(f"/admin/order/edit/?id={order.id}").get_data(as_text=True))
    assert read == []
    for kind in ("billing", "shipping"):
        options = page.select(f"select#{kind}_country option")
        assert len(options) == 250
        assert [o["value"] for o in options if o.has_attr("selected")] == ["FR"]
