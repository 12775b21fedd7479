"""Required text fields are required after trimming: spaces alone get a message on the field."""

from __future__ import annotations

import pytest

from console.models import Customer, Product
from tests.helpers import count_rows, parse, submit, text_of

CUSTOMER = {
    "first_name": "Marie",
    "last_name": "Curie",
    "email": "marie@example.com",
    "phone": "",
    "address": "",
    "notes": "",
}
PRODUCT = {"sku": "KET-001", "name": "Kettle", "unit_price": "39.90", "stock": "3", "active": "y"}


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


def field_error(html: str, name: str) -> str:
    """The error text shown under the form field ``name``."""
    field = parse(html).find(attrs={"name": name})
    assert field is not None, f"no field {name!r}"
    group = field.find_parent(class_="form-group")
    feedback = group.select(".invalid-feedback, .help-block") if group else []
    return " ".join(text_of(item) for item in feedback)


@pytest.mark.parametrize("name", ["first_name", "last_name", "email"])
def test_customer_field_of_spaces_is_required(client, manager, name):
    response = submit(client, "/admin/customer/new/", {**CUSTOMER, name: "   "})
    assert response.status_code == 200
    assert "required" in field_error(response.get_data(as_text=True), name).lower()
    assert count_rows(Customer) == 0


@pytest.mark.parametrize("name", ["sku", "name"])
def test_product_field_of_spaces_is_required(client, manager, name):
    response = submit(client, "/admin/product/new/", {**PRODUCT, name: " \t "})
    assert response.status_code == 200
    assert "required" in field_error(response.get_data(as_text=True), name).lower()
    assert count_rows(Product) == 0


def test_optional_text_of_spaces_is_stored_as_nothing(client, manager):
    response = submit(client, "/admin/customer/new/", {**CUSTOMER, "notes": "  ", "phone": " "})
    assert response.status_code == 302
    from console.database import db

    customer = db.session.query(Customer).one()
    assert (customer.notes, customer.phone) == (None, None)
