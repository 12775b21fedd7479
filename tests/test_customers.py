"""Customers through the console: CRUD with CSRF on, and bad input refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer
from tests.factories import CustomerFactory
from tests.helpers import count_rows, flashed_errors, form_token, submit

VALID = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "address": "12 St James's Square, London",
    "notes": "Prefers e-mail.",
}


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


def test_create_list_search_details(client, manager):
    response = submit(client, "/admin/customer/new/", VALID)
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer))
    assert (customer.email, customer.last_name) == ("ada@example.com", "Lovelace")

    listing = client.get("/admin/customer/").get_data(as_text=True)
    assert "ada@example.com" in listing
    found = client.get("/admin/customer/?search=lovelace").get_data(as_text=True)
    assert "ada@example.com" in found
    missing = client.get("/admin/customer/?search=nobody-here").get_data(as_text=True)
    assert "ada@example.com" not in missing
    details = client.get(f"/admin/customer/details/?id={customer.id}").get_data(as_text=True)
    assert "Prefers e-mail." in details


def test_email_is_trimmed_and_lower_cased(client, manager):
    submit(client, "/admin/customer/new/", {**VALID, "email": "  Ada@Example.COM "})
    assert db.session.scalar(select(Customer.email)) == "ada@example.com"


def test_edit(client, manager):
    customer = CustomerFactory(**VALID)
    url = f"/admin/customer/edit/?id={customer.id}"
    response = submit(client, url, {**VALID, "phone": "+44 1", "notes": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert customer.phone == "+44 1"
    assert customer.notes is None
    assert customer.version == 2


def test_delete(client, manager):
    customer = CustomerFactory(**VALID)
    # The delete button is a small form on the list page, with the page's CSRF token.
    token = form_token(client, "/admin/customer/")
    response = client.post("/admin/customer/delete/", data={"id": customer.id, "csrf_token": token})
    assert response.status_code == 302
    assert count_rows(Customer) == 0


def test_delete_without_csrf_token_changes_nothing(client, manager):
    customer = CustomerFactory(**VALID)
    client.post("/admin/customer/delete/", data={"id": customer.id})
    assert count_rows(Customer) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "valid e-mail"),
        ("email", "", "required"),
        ("first_name", "", "required"),
        ("last_name", "x" * 81, "longer than 80"),
        ("email", "a" * 250 + "@example.com", "valid e-mail"),
        ("phone", "1" * 41, "longer than 40"),
        ("notes", "n" * 5001, "5000"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, manager, field, value, message):
    response = submit(client, "/admin/customer/new/", {**VALID, field: value})
    assert response.status_code == 200
    errors = " ".join(flashed_errors(response.get_data(as_text=True)))
    assert message in errors.lower() or message in errors, errors
    assert count_rows(Customer) == 0


def test_duplicate_email_is_refused(client, manager):
    CustomerFactory(**VALID)
    response = submit(client, "/admin/customer/new/", {**VALID, "email": "ADA@example.com"})
    assert response.status_code == 200
    assert "Already exists" in " ".join(flashed_errors(response.get_data(as_text=True)))
    assert count_rows(Customer) == 1


def test_duplicate_email_on_edit_is_refused_and_changes_nothing(client, manager):
    CustomerFactory(**VALID)
    other = CustomerFactory(**VALID | {"email": "grace@example.com", "first_name": "Grace"})
    response = submit(client, f"/admin/customer/edit/?id={other.id}", {**VALID})
    assert response.status_code == 200
    db.session.expire_all()
    assert other.email == "grace@example.com"
    assert other.first_name == "Grace"


def test_missing_csrf_token_is_refused(client, manager):
    response = client.post("/admin/customer/new/", data=VALID)
    assert response.status_code == 400
    assert count_rows(Customer) == 0
