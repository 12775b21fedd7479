"""Tax rates, shipping methods and promotion codes in the console: who keeps them, and
bad input refused with a message on the field, nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import AuditEvent, Product, Promotion, ShippingMethod, TaxRate
from tests.factories import ProductFactory
from tests.helpers import count_rows, flashed_errors, submit
from tests.pricing_support import D, field_errors

PAGES = ["/admin/promotion/", "/admin/shipping_method/", "/admin/tax_rate/"]


@pytest.mark.parametrize("role", ["admin", "manager", "clerk", "viewer"])
def test_pricing_pages_are_for_those_who_manage_promotions(client, auth, role):
    auth.login_as(role)
    allowed = role in {"admin", "manager"}
    for page in PAGES:
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)
        assert client.get(f"{page}new/").status_code == (200 if allowed else 403), (role, page)
    menu = client.get("/admin/").get_data(as_text=True)
    assert ('href="/admin/promotion/"' in menu) is allowed


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


def test_a_manager_keeps_the_pricing_data_and_it_is_audited(client, manager):
    for url, data in [
        ("/admin/tax_rate/new/", {"name": "Standard", "rate": "20", "active": "y"}),
        ("/admin/shipping_method/new/", {"name": "Post", "price": "4.90", "free_above": "50"}),
        (
            "/admin/promotion/new/",
            {"code": "WELCOME10", "kind": "percentage", "value": "10", "active": "y"},
        ),
    ]:
        response = submit(client, url, data)
        assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert db.session.scalar(select(TaxRate.rate).where(TaxRate.name == "Standard")) == 20
    assert db.session.scalar(select(ShippingMethod.free_above)) == D("50.00")
    assert db.session.scalar(select(Promotion.code)) == "WELCOME10"
    kinds = set(db.session.scalars(select(AuditEvent.record_type)))
    assert {"tax_rate", "shipping_method", "promotion"} <= kinds


TAX = {"name": "Standard", "rate": "20"}
SHIPPING = {"name": "Post", "price": "4.90", "free_above": ""}
CODE = {"code": "SAVE", "kind": "percentage", "value": "10", "active": "y"}

BAD_INPUT = [
    ("tax_rate", TAX, "rate", "-1", "from 0 to 100"),
    ("tax_rate", TAX, "rate", "100.01", "from 0 to 100"),
    ("tax_rate", TAX, "rate", "5.555", "at most two decimals"),
    ("tax_rate", TAX, "rate", "NaN", "not amounts"),
    ("shipping_method", SHIPPING, "price", "4.905", "at most two decimals"),
    ("shipping_method", SHIPPING, "price", "-0.01", "0 or more"),
    ("shipping_method", SHIPPING, "free_above", "-5", "0 or more"),
    ("promotion", CODE, "value", "100.5", "cannot be over 100"),
    ("promotion", CODE, "value", "-1", "cannot be below 0"),
    ("promotion", {**CODE, "kind": "fixed"}, "value", "-0.01", "cannot be below 0"),
    ("promotion", {**CODE, "kind": "fixed"}, "value", "1.001", "at most two decimals"),
    ("promotion", CODE, "code", "TWO WORDS", "no spaces"),
    ("promotion", CODE, "usage_limit", "0", "at least 1"),
    ("promotion", CODE, "per_customer_limit", "-3", "at least 1"),
    ("promotion", CODE, "minimum_subtotal", "-1", "0 or more"),
    (
        "promotion",
        {**CODE, "valid_from": "2026-12-10 00:00:00"},
        "valid_until",
        "2026-12-01 00:00:00",
        "after its start",
    ),
]


@pytest.mark.parametrize(("view", "valid", "field", "value", "message"), BAD_INPUT)
def test_bad_input_is_refused_on_its_field(client, manager, view, valid, field, value, message):
    model = {"tax_rate": TaxRate, "shipping_method": ShippingMethod, "promotion": Promotion}[view]
    before = count_rows(model)
    response = submit(client, f"/admin/{view}/new/", {**valid, field: value})
    assert response.status_code == 200
    errors = " ".join(field_errors(response.get_data(as_text=True), field))
    assert message in errors, (errors, flashed_errors(response.get_data(as_text=True)))
    assert count_rows(model) == before


def test_codes_are_unique_ignoring_case(client, manager):
    assert submit(client, "/admin/promotion/new/", CODE).status_code == 302
    response = submit(client, "/admin/promotion/new/", {**CODE, "code": "save"})
    assert "Already exists" in " ".join(field_errors(response.get_data(as_text=True), "code"))
    assert count_rows(Promotion) == 1


def test_a_usage_limit_cannot_go_below_the_uses_taken(client, manager):
    code = Promotion(code="BUSY", kind="fixed", value=D("1"), usage_limit=10, times_used=4)
    db.session.add(code)
    db.session.commit()
    response = submit(client, f"/admin/promotion/edit/?id={code.id}", {"usage_limit": "3"})
    assert "cannot be lower" in " ".join(
        field_errors(response.get_data(as_text=True), "usage_limit")
    )
    db.session.expire_all()
    assert db.session.get(Promotion, code.id).usage_limit == 10


def test_a_product_form_picks_an_active_tax_rate(client, manager):
    standard = TaxRate(name="Standard", rate=D("20"))
    retired = TaxRate(name="Old", rate=D("19.6"), active=False)
    db.session.add_all([standard, retired])
    db.session.commit()
    data = {"sku": "KET-1", "name": "Kettle", "unit_price": "39.90", "stock": "3"}
    response = submit(client, "/admin/product/new/", {**data, "tax_rate": str(standard.id)})
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    assert db.session.scalar(select(Product)).tax_rate.name == "Standard"
    refused = submit(
        client, "/admin/product/new/", {**data, "sku": "X", "tax_rate": str(retired.id)}
    )
    assert field_errors(refused.get_data(as_text=True), "tax_rate")
    # A product keeps the inactive rate it has.
    old = ProductFactory(sku="OLD-1", tax_rate=retired)
    edited = {**data, "sku": "OLD-1", "name": "Old kettle", "tax_rate": str(retired.id)}
    response = submit(client, f"/admin/product/edit/?id={old.id}", edited)
    assert response.status_code == 302, flashed_errors(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Product, old.id).tax_rate_id == retired.id


def test_a_product_price_with_more_than_cents_is_refused(client, manager):
    data = {"sku": "KET-1", "name": "Kettle", "unit_price": "39.999", "stock": "3"}
    response = submit(client, "/admin/product/new/", data)
    assert "at most two decimals" in " ".join(
        field_errors(response.get_data(as_text=True), "unit_price")
    )
    assert count_rows(Product) == 0
