"""Products through the console: CRUD with CSRF on, and bad input refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Product
from tests.factories import ProductFactory
from tests.helpers import count_rows, flashed_errors, form_token, submit

VALID = {
    "sku": "KET-001",
    "name": "Classic Kettle",
    "description": "1.7 l, stainless steel",
    "unit_price": "39.90",
    "stock": "12",
    "active": "y",
}


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


KETTLE = {
    "sku": "KET-001",
    "name": "Classic Kettle",
    "unit_price": Decimal("39.90"),
    "stock": 12,
    "active": True,
}


def test_create_list_search_details(client, manager):
    response = submit(client, "/admin/product/new/", VALID)
    assert response.status_code == 302
    product = db.session.scalar(select(Product))
    assert product.unit_price == Decimal("39.90")
    assert isinstance(product.unit_price, Decimal)
    assert (product.sku, product.stock, product.active) == ("KET-001", 12, True)
    assert "KET-001" in client.get("/admin/product/").get_data(as_text=True)
    assert "KET-001" in client.get("/admin/product/?search=kettle").get_data(as_text=True)
    details = client.get(f"/admin/product/details/?id={product.id}").get_data(as_text=True)
    assert "stainless steel" in details


def test_edit_price_keeps_the_stock(client, manager):
    """Stock changes only through the stock ledger: a stock posted to the form is ignored."""
    product = ProductFactory(**KETTLE)
    response = submit(
        client,
        f"/admin/product/edit/?id={product.id}",
        {**VALID, "unit_price": "41.00", "stock": "0", "active": ""},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (product.unit_price, product.stock, product.active) == (Decimal("41.00"), 12, False)


def test_delete_needs_products_delete(client, auth):
    product = ProductFactory(**{**KETTLE, "stock": 0})
    auth.login_as("admin")
    token = form_token(client, "/admin/product/")
    response = client.post("/admin/product/delete/", data={"id": product.id, "csrf_token": token})
    assert response.status_code == 302
    assert count_rows(Product) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit_price", "-1", "price must be 0 or more"),
        ("unit_price", "abc", "not a valid decimal"),
        ("unit_price", "", "required"),
        ("stock", "-5", "stock must be 0 or more"),
        ("stock", "1.5", "not a valid integer"),
        ("sku", "", "required"),
        ("sku", "S" * 41, "longer than 40"),
        ("name", "N" * 201, "longer than 200"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, manager, field, value, message):
    response = submit(client, "/admin/product/new/", {**VALID, field: value})
    assert response.status_code == 200
    errors = " ".join(flashed_errors(response.get_data(as_text=True))).lower()
    assert message in errors, errors
    assert count_rows(Product) == 0


def test_duplicate_sku_is_refused(client, manager):
    ProductFactory(**KETTLE)
    response = submit(client, "/admin/product/new/", {**VALID, "name": "Another"})
    assert response.status_code == 200
    assert "Already exists" in " ".join(flashed_errors(response.get_data(as_text=True)))
    assert count_rows(Product) == 1


def test_negative_stock_on_edit_changes_nothing(client, manager):
    product = ProductFactory(**KETTLE)
    response = submit(client, f"/admin/product/edit/?id={product.id}", {**VALID, "stock": "-1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert product.stock == 12


def test_a_product_with_stock_movements_is_kept(client, auth):
    """Its movements are the history of its stock: the product is deactivated instead."""
    product = ProductFactory(**KETTLE)
    auth.login_as("admin")
    token = form_token(client, "/admin/product/")
    response = client.post(
        "/admin/product/delete/",
        data={"id": product.id, "csrf_token": token},
        follow_redirects=True,
    )
    assert "KET-001 has stock movements" in " ".join(
        flashed_errors(response.get_data(as_text=True))
    )
    assert count_rows(Product) == 1


def test_database_refuses_negative_values_even_without_the_form(app):
    """The CHECK constraints protect the data whatever path writes it."""
    from sqlalchemy.exc import IntegrityError

    for bad in ({"unit_price": Decimal("-0.01")}, {"stock": -1}):
        db.session.add(
            Product(sku="X-1", name="X", **{"unit_price": Decimal("1"), "stock": 1, **bad})
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert count_rows(Product) == 0
