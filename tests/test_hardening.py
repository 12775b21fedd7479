"""Attacks on the console that must end in a clear refusal, never a 500 or a change.

Each test replays one finding: return URLs that leave the site, role and product ids
the form never offered, numbers past what the database's integers hold, empty or
garbage list filters and look-up offsets, non-finite decimals, and NUL bytes (which
PostgreSQL refuses in text).
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, Order, OrderStatus, OutboxMessage, Product, Role, User
from console.services import workflow
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import (
    count_rows,
    flashed_errors,
    form_token,
    hidden_inputs,
    submit,
)

OFF_SITE = [
    "http:evil.example/phish",
    "https:evil.example",
    "http://evil.example/phish",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    " //evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
]

HUGE_IDS = [str(2**31), str(2**63), str(10**30), "-1", "0"]


def location(response) -> str:
    """Where a redirect sends the browser, as this site's path and query."""
    assert response.status_code in (301, 302, 303), response.status_code
    target = urlsplit(response.headers["Location"])
    # A scheme without this host (``http:///evil.example``) is another site to a browser.
    on_site = (target.scheme, target.netloc) in {("", ""), ("http", "console.test")}
    assert on_site, response.headers["Location"]
    return target.path + (f"?{target.query}" if target.query else "")


def messages(response) -> str:
    return " ".join(flashed_errors(response.get_data(as_text=True)))


@pytest.fixture
def shop(app):
    clerk = StaffFactory(email="taker@staff.test", role="clerk")
    customer, products = catalogue({"A": 10, "B": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 2}, actor=clerk)
    return {"clerk": clerk, "customer": customer, "products": products, "order": order}


# --- 1. return URLs stay on this site ------------------------------------------------


def test_details_of_a_missing_record_never_redirects_off_site(client, auth):
    auth.login_as("viewer")
    for target in OFF_SITE:
        response = client.get("/admin/customer/details/", query_string={"id": "x", "url": target})
        assert location(response) == "/admin/customer/", target


@pytest.mark.parametrize("target", ["http:evil.example/phish", "/\\evil.example", "//evil"])
def test_every_return_url_of_the_model_views_is_checked(client, auth, shop, target):
    auth.login_as("admin")
    customer_id = shop["customer"].id
    # The edit form of a missing record, and of a saved one.
    missing = client.get("/admin/customer/edit/", query_string={"id": "999", "url": target})
    assert location(missing) == "/admin/customer/"
    url = f"/admin/customer/edit/?id={customer_id}&url={target}"
    page = client.get(url)
    assert target not in page.get_data(as_text=True)
    fields = hidden_inputs(page.get_data(as_text=True))
    saved = client.post(
        "/admin/customer/edit/",
        query_string={"id": customer_id, "url": target},
        data={
            **fields,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
        },
    )
    assert location(saved) == "/admin/customer/"
    # Delete (the return URL travels in the form), a list action, an order transition.
    token = form_token(client, "/admin/customer/")
    deleted = client.post(
        "/admin/customer/delete/", data={"id": "999", "url": target, "csrf_token": token}
    )
    assert location(deleted) == "/admin/customer/"
    acted = client.post(
        "/admin/order/action/",
        data={"action": "cancel", "rowid": "999", "url": target, "csrf_token": token},
    )
    assert location(acted) == "/admin/order/"
    order_id = shop["order"].id
    moved = client.post(
        f"/admin/order/{order_id}/do/cancel/",
        query_string={"url": target},
        data={"csrf_token": token},
    )
    # A transition comes back to the order's page.
    assert location(moved) == f"/admin/order/details/?id={order_id}"
    assert count_rows(Customer) == 1


def test_a_return_url_of_this_site_is_kept(client, auth):
    auth.login_as("viewer")
    back = "/admin/customer/?page=1&search=ada"
    response = client.get("/admin/customer/details/", query_string={"id": "x", "url": back})
    assert location(response) == back


# --- 2. unknown role ids -------------------------------------------------------------


def test_unknown_role_ids_are_an_error_and_change_nothing(client, auth):
    auth.login_as("admin")
    someone = StaffFactory(email="someone@staff.test", role="viewer")
    clerk = str(db.session.scalar(select(Role.id).filter_by(name="clerk")))
    url = f"/admin/staff_user/edit/?id={someone.id}"
    for roles in (["999"], ["abc"], [str(2**31)], [str(2**63)], [clerk, "999"]):
        response = submit(client, url, {"roles": roles, "active": "y"})
        assert response.status_code == 200, roles
        assert "not a valid choice" in messages(response).lower(), roles
        db.session.expire_all()
        assert [role.name for role in db.session.get(User, someone.id).roles] == ["viewer"]
    # A known role still saves.
    response = submit(client, url, {"roles": [clerk], "active": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert [role.name for role in db.session.get(User, someone.id).roles] == ["clerk"]


# --- 3. inactive products ------------------------------------------------------------


def order_form(customer, *lines) -> dict:
    data = {"customer": str(customer.id), "coupon_code": ""}
    for i, (product, quantity) in enumerate(lines):
        data[f"lines-{i}-product"] = str(product.id)
        data[f"lines-{i}-quantity"] = str(quantity)
    return data


def test_an_inactive_product_cannot_be_ordered_by_its_id(client, auth, shop):
    retired = shop["products"]["B"]
    retired.active = False
    db.session.commit()
    auth.login_as("clerk")
    before = count_rows(Order)
    response = submit(client, "/admin/order/new/", order_form(shop["customer"], (retired, 1)))
    assert response.status_code == 200
    assert "No longer sold" in messages(response) and ": B." in messages(response)
    assert count_rows(Order) == before


def test_an_inactive_product_cannot_be_added_to_an_order(client, auth, shop):
    order, retired = shop["order"], shop["products"]["B"]
    retired.active = False
    db.session.commit()
    auth.login_as("clerk")
    data = order_form(shop["customer"], (shop["products"]["A"], 2), (retired, 1))
    data["lines-0-id"] = str(order.lines[0].id)
    response = submit(client, f"/admin/order/edit/?id={order.id}", data)
    assert response.status_code == 200
    assert "No longer sold" in messages(response) and ": B." in messages(response)
    db.session.expire_all()
    assert [line.product.sku for line in db.session.get(Order, order.id).lines] == ["A"]


def test_a_line_whose_product_was_retired_later_still_saves(client, auth, shop):
    order, product = shop["order"], shop["products"]["A"]
    product.active = False
    db.session.commit()
    auth.login_as("clerk")
    data = order_form(shop["customer"], (product, 4))
    data["lines-0-id"] = str(order.lines[0].id)
    response = submit(client, f"/admin/order/edit/?id={order.id}", data)
    assert response.status_code == 302, messages(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).lines[0].quantity == 4


# --- 4. numbers past the database's integers ------------------------------------------


def test_transition_of_an_impossible_order_id_is_not_found(client, auth, shop):
    auth.login_as("manager")
    token = form_token(client, "/admin/order/")
    for order_id in (str(2**31), str(2**63), str(10**30)):
        response = client.post(f"/admin/order/{order_id}/do/cancel/", data={"csrf_token": token})
        assert response.status_code == 404
    assert db.session.get(Order, shop["order"].id).status == OrderStatus.PENDING


BULK_ACTIONS = [
    ("order", "approve"),
    ("order", "cancel"),
    ("order", "reject"),
    ("pending", "approve"),
    ("notification", "resend"),
    ("staff_user", "force_password_reset"),
    ("staff_user", "reset_two_factor"),
    ("customer", "delete"),
    ("product", "delete"),
]


def test_bulk_actions_refuse_impossible_ids(client, auth, shop):
    auth.login_as("admin")
    token = form_token(client, "/admin/order/")
    before = (count_rows(Customer), count_rows(Product), count_rows(OutboxMessage))
    for view, action in BULK_ACTIONS:
        for bad in [*HUGE_IDS, "x", ""]:
            response = client.post(
                f"/admin/{view}/action/",
                data={
                    "action": action,
                    "rowid": ["1", bad],
                    "reason": "no",
                    "csrf_token": token,
                },
            )
            assert response.status_code == 400, (view, action, bad)
            assert "not a record" in response.get_data(as_text=True)
    assert (count_rows(Customer), count_rows(Product), count_rows(OutboxMessage)) == before
    assert db.session.get(Order, shop["order"].id).status == OrderStatus.PENDING


def test_services_refuse_impossible_ids(app, shop):
    from console.services import notifications
    from console.services.errors import DomainError

    manager = StaffFactory(email="boss@staff.test", role="manager")
    for bad in (2**31, 2**63, 10**30, -1):
        with pytest.raises(DomainError, match="does not exist"):
            workflow.cancel(db.session, bad, manager)
        assert notifications.resend(db.session, [bad], manager) == 0


# --- 4. ajax look-ups, list filters and arguments --------------------------------------


def test_lookup_offsets_and_sizes_are_bounded(client, auth, shop):
    auth.login_as("clerk")
    lookup = "/admin/order/ajax/lookup/"
    for name in ("customer", "orderline-product"):
        for key in ("offset", "limit"):
            for bad in ("", "-1", "-100", "x", str(2**31), str(2**63), str(10**30), "1.5"):
                args = {"name": name, "query": "", key: bad}
                response = client.get(lookup, query_string=args)
                assert response.status_code == 400, args
                assert f"look-up {key} must be a whole number" in response.get_data(as_text=True)
        page = client.get(lookup, query_string={"name": name, "query": "", "offset": "0"})
        assert page.status_code == 200 and page.get_json()
        past = client.get(lookup, query_string={"name": name, "query": "", "offset": "5"})
        assert past.get_json() == []


FILTER_GARBAGE = ["", "x", "NaN", "-inf", "1e999", str(2**31), str(2**63), "1,,x"]


@pytest.mark.parametrize("view", ["product", "order", "notification"])
def test_list_filters_with_garbage_values_never_fail(client, auth, shop, view):
    auth.login_as("admin")
    for key in _filter_keys(client, view):
        for value in FILTER_GARBAGE:
            response = client.get(f"/admin/{view}/", query_string={f"flt0_{key}": value})
            assert response.status_code == 200, (key, value, response.status_code)


def _filter_keys(client, view: str) -> list[str]:
    from console.admin.registry import find_view

    endpoint = {"pending": "pending_order"}.get(view, view)
    with client.application.test_request_context():
        return list(find_view(client.application, endpoint)._filter_args)


def test_number_filters_out_of_range_are_refused_with_a_message(client, auth, shop):
    auth.login_as("manager")
    for key in ("2", "3", "8"):
        response = client.get("/admin/product/", query_string={f"flt0_{key}": ""})
        assert response.status_code == 200
    response = client.get("/admin/product/", query_string={"flt0_2": str(2**31)})
    assert "Invalid Filter Value" in response.get_data(as_text=True)
    listed = client.get("/admin/product/", query_string={"flt0_4": "5"}).get_data(as_text=True)
    assert ">A<" in listed.replace(" ", "") or "A" in listed


def test_list_arguments_past_any_integer(client, auth, shop):
    auth.login_as("admin")
    for args in (
        {"page": str(10**30)},
        {"page": "-5"},
        {"page_size": str(10**30)},
        {"sort": str(10**30)},
        {"sort": "-1"},
        {"desc": str(10**30)},
    ):
        for view in ("order", "product", "customer", "audit"):
            response = client.get(f"/admin/{view}/", query_string=args)
            assert response.status_code == 200, (view, args)


# --- 4. non-finite decimals ------------------------------------------------------------

PRODUCT = {
    "sku": "KET-001",
    "name": "Classic Kettle",
    "description": "",
    "unit_price": "39.90",
    "stock": "12",
    "active": "y",
}


def test_non_finite_prices_are_refused_on_the_form(client, auth):
    auth.login_as("manager")
    for price in ("sNaN", "NaN", "-NaN", "Infinity", "-Infinity", "inf", "1e999", "-1e999"):
        response = submit(client, "/admin/product/new/", {**PRODUCT, "unit_price": price})
        assert response.status_code == 200, price
        shown = messages(response).lower()
        assert "enter a number" in shown or "price must be" in shown, (price, shown)
    assert count_rows(Product) == 0


def test_non_finite_price_on_edit_changes_nothing(client, auth, shop):
    product = shop["products"]["A"]
    auth.login_as("manager")
    response = submit(
        client,
        f"/admin/product/edit/?id={product.id}",
        {**PRODUCT, "sku": "A", "unit_price": "sNaN"},
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Product, product.id).unit_price == Decimal("10.00")


# --- 4. NUL bytes ----------------------------------------------------------------------

NUL = "a\x00b"


def test_nul_bytes_in_search_and_filters_are_refused(client, auth, shop):
    auth.login_as("admin")
    for url in (
        "/admin/product/?search=a%00b",
        "/admin/customer/?search=%00",
        "/admin/order/?search=x%00",
        "/admin/product/?flt0_18=a%00b",
        "/admin/order/?flt0_15=a%00b@example.com",
        "/admin/audit/?flt0_person_equals=%00",
        "/admin/order/ajax/lookup/?name=customer&query=a%00",
        "/admin/customer/?fl%00t=1",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "NUL character" in response.get_data(as_text=True)


def test_nul_bytes_in_forms_are_refused_and_change_nothing(client, auth, shop):
    auth.login_as("admin")
    order = shop["order"]
    token = form_token(client, f"/admin/order/details/?id={order.id}")
    response = client.post(
        f"/admin/order/{order.id}/do/reject/",
        data={"csrf_token": token, "reason": NUL, "version": order.version},
    )
    assert response.status_code == 400
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING
    response = submit(client, "/admin/product/new/", {**PRODUCT, "sku": NUL})
    assert response.status_code == 400
    assert count_rows(Product) == 2
    response = submit(client, "/admin/role/new/", {"name": "auditor", "description": NUL})
    assert response.status_code == 400
    customer = shop["customer"]
    response = submit(
        client,
        f"/admin/customer/edit/?id={customer.id}",
        {"first_name": "Ada", "last_name": "Love\x00lace", "email": "ada@example.com"},
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).last_name == "Lovelace"
    assert db.session.scalar(select(Role).filter_by(name="auditor")) is None


def test_nul_bytes_are_refused_on_the_sign_in_pages_too(client):
    token = form_token(client, "/login")
    response = client.post(
        "/login", data={"email": "a\x00@example.com", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
