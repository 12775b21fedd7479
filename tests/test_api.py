"""The JSON API /api/v1: tokens, resources, errors as problems, idempotent intake.

Each test runs on SQLite and on the real PostgreSQL server. Tokens are made by the
token service as an administrator makes them in the console.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from console.database import db
from console.models import (
    ApiToken,
    AuditEvent,
    Customer,
    Order,
    OutboxMessage,
    Product,
    StockMovement,
)
from console.models.base import utcnow
from console.services import stock as stock_service
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    StaffFactory,
    api_secret,
    bearer,
)
from tests.helpers import csrf_token_from, snapshot

PROBLEM = "application/problem+json"

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "postal_code": "SW1Y 4JH",
    "city": "London",
    "country": "GB",
}


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM, response.mimetype
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- document and docs page ----------------------------------------------------------


def test_openapi_document_and_local_docs_page(app, client):
    """The document lists every operation with its schemas and its id; the docs page
    loads only this site's files."""
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    operations = {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "patch"}
    }
    assert ("/api/v1/orders", "post") in operations
    assert ("/api/v1/orders/{order_id}/approve", "post") in operations
    assert ("/api/v1/customers/{customer_id}", "patch") in operations
    for where, operation in operations.items():
        responses = operation["responses"]
        assert {"401", "403", "default"} <= set(responses), where
        assert operation.get("summary"), where
    # Clients name operations by id (resource.action), unique in the document.
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(set(ids)) == len(ids) == len(operations)
    assert operations[("/api/v1/orders", "post")]["operationId"] == "orders.create"
    assert operations[("/api/v1/orders/{order_id}/ship", "post")]["operationId"] == "orders.ship"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html.replace("http://console.test", "")
    assert "https://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert client.get(f"/api/v1/docs/assets/{asset}").status_code == 200
    assert client.get("/static/js/api-docs.js").status_code == 200
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404


# --- authentication --------------------------------------------------------------------


def test_no_token_unknown_token_and_a_signed_in_session_get_401(app, client, auth):
    """A browser signed in to the console gets 401 on the API: its cookie is not read,
    so a form on another site cannot act through it (no CSRF surface)."""
    refused = client.get("/api/v1/customers")
    assert_problem(refused, 401)
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/v1/customers", headers=bearer("bo_unknown")), 401)
    auth.login_as("admin")
    assert client.get("/admin/").status_code == 200  # the session is real
    assert_problem(client.get("/api/v1/customers"), 401)
    before = count(Customer)
    response = client.post(
        "/api/v1/customers",
        json={"first_name": "A", "last_name": "B", "email": "ab@example.com"},
        headers={"X-CSRFToken": csrf_token_from(client.get("/admin/").get_data(as_text=True))},
    )
    assert_problem(response, 401)
    assert count(Customer) == before
    assert "Set-Cookie" not in response.headers


def test_revoked_expired_and_inactive_owner_tokens_get_401(app, client):
    secret = api_secret(["customers.read"])
    assert client.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    token = db.session.scalar(select(ApiToken))
    token.revoked_at = utcnow()
    db.session.commit()
    assert_problem(client.get("/api/v1/customers", headers=bearer(secret)), 401)

    expiring = api_secret(["customers.read"], name="Expiring")
    token = db.session.scalar(select(ApiToken).filter_by(name="Expiring"))
    token.expires_at = utcnow()
    db.session.commit()
    assert_problem(client.get("/api/v1/customers", headers=bearer(expiring)), 401)

    owner = StaffFactory(role="clerk")
    held = api_secret(["customers.read"], owner)
    assert client.get("/api/v1/customers", headers=bearer(held)).status_code == 200
    owner.active = False
    db.session.commit()
    assert_problem(client.get("/api/v1/customers", headers=bearer(held)), 401)


def test_token_permissions_are_a_subset_of_the_owners(app):
    from console.services import api_tokens
    from console.services.errors import DomainError

    clerk = StaffFactory(role="clerk")
    with pytest.raises(DomainError, match="does not hold orders.approve"):
        api_secret(["orders.read", "orders.approve"], clerk)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    secret = api_secret(["orders.read"], clerk)
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash == api_tokens.hash_secret(secret) and secret not in repr(
        stored.__dict__
    )


def test_a_permission_the_owner_loses_is_refused_at_once(app, client):
    """The token needs the permission and its owner must still hold it."""
    owner = StaffFactory(role="manager")
    secret = api_secret(["customers.read"], owner)
    assert client.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    from tests.factories import accounts_datastore

    datastore = accounts_datastore()
    datastore.remove_role_from_user(owner, "manager")
    datastore.add_role_to_user(owner, "viewer")
    db.session.commit()
    assert client.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    role = datastore.find_role("viewer")
    role.permissions = [p for p in role.get_permissions() if p != "customers.read"]
    db.session.commit()
    assert_problem(client.get("/api/v1/customers", headers=bearer(secret)), 403)


# --- customers and products ------------------------------------------------------------


def test_customer_create_get_update_with_if_match(app, client):
    secret = api_secret(["customers.read", "customers.write"])
    headers = bearer(secret)
    created = client.post(
        "/api/v1/customers",
        json={"first_name": " Ada ", "last_name": "Lovelace", "email": "ADA@Example.com"},
        headers=headers,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    # Cleaned by the console's own form: trimmed, the e-mail lower-cased.
    assert body["first_name"] == "Ada" and body["email"] == "ada@example.com"
    etag = created.headers["ETag"]
    url = f"/api/v1/customers/{body['id']}"
    got = client.get(url, headers=headers)
    assert got.headers["ETag"] == etag and got.get_json()["email"] == "ada@example.com"

    assert_problem(client.patch(url, json={"phone": "1"}, headers=headers), 428)
    changed = client.patch(url, json={"phone": "555"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["phone"] == "555"
    assert changed.headers["ETag"] != etag
    stale = client.patch(url, json={"phone": "999"}, headers={**headers, "If-Match": etag})
    assert_problem(stale, 412)
    db.session.expire_all()
    assert db.session.get(Customer, body["id"]).phone == "555"
    # The audit trail names the token's owner.
    token = db.session.scalar(select(ApiToken))
    actors = set(
        db.session.scalars(select(AuditEvent.actor_id).where(AuditEvent.record_type == "customer"))
    )
    assert actors == {token.owner_id}


def test_customer_search_and_cursor_pages(app, client):
    for n in range(5):
        CustomerFactory(last_name=f"Zed{n}", email=f"z{n}@example.com")
    CustomerFactory(last_name="Other", email="o@example.com")
    headers = bearer(api_secret(["customers.read"]))
    seen = []
    url = "/api/v1/customers?q=zed&limit=2"
    while url:
        page = client.get(url, headers=headers).get_json()
        assert len(page["items"]) <= 2
        seen += [item["last_name"] for item in page["items"]]
        url = (
            page["next_cursor"] and f"/api/v1/customers?q=zed&limit=2&cursor={page['next_cursor']}"
        )
    assert seen == [f"Zed{n}" for n in range(5)]
    assert_problem(client.get("/api/v1/customers?cursor=!!", headers=headers), 400)


def test_product_rules_are_the_consoles(app, client):
    ProductFactory(sku="KET-1")
    headers = bearer(api_secret(["products.read", "products.write"]))
    before = count(Product)
    duplicate = client.post(
        "/api/v1/products",
        json={"sku": "ket-1", "name": "Kettle", "unit_price": "10.00"},
        headers=headers,
    )
    body = assert_problem(duplicate, 422)
    assert "sku" in body["errors"]
    cents = client.post(
        "/api/v1/products",
        json={"sku": "KET-2", "name": "Kettle", "unit_price": "10.001"},
        headers=headers,
    )
    assert "unit_price" in assert_problem(cents, 422)["errors"]
    assert count(Product) == before
    created = client.post(
        "/api/v1/products",
        json={"sku": "KET-2", "name": "Kettle", "unit_price": "10.50", "stock": 3},
        headers=headers,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["unit_price"] == "10.50"
    assert db.session.get(Product, created.get_json()["id"]).unit_price == Decimal("10.50")


# --- stock --------------------------------------------------------------------------------


def movements_of(product_id: int) -> list[tuple[str, int, int]]:
    return [
        (m.reason, m.quantity, m.balance_after)
        for m in db.session.scalars(
            select(StockMovement)
            .where(StockMovement.product_id == product_id)
            .order_by(StockMovement.id)
        )
    ]


def test_a_product_made_through_the_api_has_its_stock_in_the_ledger(app, client):
    headers = bearer(api_secret(["products.read", "products.write"]))
    created = client.post(
        "/api/v1/products",
        json={"sku": "KET-9", "name": "Kettle", "unit_price": "10.50", "stock": 3},
        headers=headers,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    product_id = created.get_json()["id"]
    assert movements_of(product_id) == [("received", 3, 3)]
    assert stock_service.verify(db.session).mismatches == []


def test_stock_is_not_changed_by_editing_a_product(app, client):
    product = ProductFactory(stock=5)
    headers = bearer(api_secret(["products.read", "products.write"]))
    etag = client.get(f"/api/v1/products/{product.id}", headers=headers).headers["ETag"]
    before = snapshot(frozenset({"api_token"}))
    response = client.patch(
        f"/api/v1/products/{product.id}",
        json={"stock": 500, "name": "Renamed"},
        headers={**headers, "If-Match": etag},
    )
    body = assert_problem(response, 422)
    assert "stock-adjustments" in body["errors"]["stock"][0]
    assert snapshot(frozenset({"api_token"})) == before
    assert db.session.get(Product, product.id, populate_existing=True).stock == 5


def test_stock_adjustments_through_the_api_write_the_ledger(app, client):
    product = ProductFactory(stock=0)
    owner = StaffFactory(role="manager")
    headers = bearer(api_secret(["products.read", "stock.adjust"], owner))
    url = f"/api/v1/products/{product.id}/stock-adjustments"

    received = client.post(url, json={"reason": "received", "quantity": 8}, headers=headers)
    assert received.status_code == 200, received.get_data(as_text=True)
    assert received.get_json()["change"] == 8
    assert received.get_json()["product"]["stock"] == 8
    counted = client.post(
        url, json={"reason": "counted", "quantity": 6, "note": "Shelf count"}, headers=headers
    )
    assert counted.get_json()["change"] == -2 and counted.get_json()["product"]["stock"] == 6
    damaged = client.post(url, json={"reason": "damaged", "quantity": 1}, headers=headers)
    assert damaged.get_json()["product"]["stock"] == 5
    assert movements_of(product.id) == [
        ("received", 8, 8),
        ("counted", -2, 6),
        ("damaged", -1, 5),
    ]

    before = snapshot(frozenset({"api_token"}))
    for bad in (
        {"reason": "damaged", "quantity": 6},  # more than there is
        {"reason": "received", "quantity": 0},
        {"reason": "counted", "quantity": -1},
        {"reason": "reserved", "quantity": 1},  # not an adjustment
        {"reason": "received"},
        {"reason": "received", "quantity": "3"},
        {"reason": "received", "quantity": 1, "note": "x" * 501},
    ):
        refused = client.post(url, json=bad, headers=headers)
        assert refused.status_code == 422, (bad, refused.get_data(as_text=True))
        assert refused.mimetype == "application/problem+json"
    assert snapshot(frozenset({"api_token"})) == before
    assert stock_service.verify(db.session).mismatches == []
    assert (
        client.post(
            "/api/v1/products/999999/stock-adjustments",
            json={"reason": "received", "quantity": 1},
            headers=headers,
        ).status_code
        == 404
    )


# --- bad input -------------------------------------------------------------------------


@pytest.mark.settings(API_MAX_BODY_BYTES=2048)
def test_bad_input_gets_a_problem_and_changes_nothing(app, client):
    customer = CustomerFactory()
    product = ProductFactory(stock=5)
    headers = bearer(
        api_secret(["customers.read", "customers.write", "orders.read", "orders.write"])
    )
    good = {"customer_id": customer.id, "lines": [{"product_id": product.id, "quantity": 1}]}
    before = (count(Customer), count(Order), count(OutboxMessage))

    def post(path, **kwargs):
        return client.post(path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)

    malformed = post("/api/v1/orders", data="{not json", content_type="application/json")
    assert_problem(malformed, 400)
    assert_problem(post("/api/v1/orders", data="customer_id=1", content_type="text/plain"), 415)
    unknown = assert_problem(post("/api/v1/orders", json={**good, "total": "0.01"}), 422)
    assert "total" in unknown["errors"]
    wrong = assert_problem(post("/api/v1/orders", json={**good, "customer_id": "one"}), 422)
    assert "customer_id" in wrong["errors"]
    huge = post(
        "/api/v1/orders",
        data=json.dumps({**good, "coupon_code": "x" * 5000}),
        content_type="application/json",
    )
    assert_problem(huge, 413)
    for quantity in (0, -3, 10**9, 2**70):
        bad = {**good, "lines": [{"product_id": product.id, "quantity": quantity}]}
        assert "lines" in assert_problem(post("/api/v1/orders", json=bad), 422)["errors"]
    missing = {**good, "customer_id": 999_999}
    assert "customer_id" in assert_problem(post("/api/v1/orders", json=missing), 422)["errors"]
    no_product = {**good, "lines": [{"product_id": 999_999, "quantity": 1}]}
    assert (
        "lines.0.product_id"
        in assert_problem(post("/api/v1/orders", json=no_product), 422)["errors"]
    )
    bad_address = {**good, "shipping_address": {**ADDRESS, "country": "XX"}}
    assert (
        "shipping_address.country"
        in assert_problem(post("/api/v1/orders", json=bad_address), 422)["errors"]
    )
    nul = post(
        "/api/v1/customers", json={"first_name": "A\x00", "last_name": "B", "email": "a@b.c"}
    )
    assert_problem(nul, 422)
    assert_problem(client.get("/api/v1/orders/999999", headers=headers), 404)
    assert_problem(client.get("/api/v1/orders/99999999999999999999", headers=headers), 404)
    assert_problem(client.delete("/api/v1/orders", headers=headers), 405)
    assert_problem(client.get("/api/v1/nothing-here", headers=headers), 404)
    email = assert_problem(
        post("/api/v1/customers", json={"first_name": "A", "last_name": "B", "email": "nope"}),
        422,
    )
    assert "email" in email["errors"]
    assert (count(Customer), count(Order), count(OutboxMessage)) == before


def test_deeply_nested_json_is_refused_not_a_500(app, client):
    headers = bearer(api_secret(["orders.read", "orders.write"]))
    deep = client.post(
        "/api/v1/orders",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=headers,
    )
    assert_problem(deep, 400)


# --- orders ----------------------------------------------------------------------------


def order_body(customer, product, quantity=2, **extra):
    return {
        "customer_id": customer.id,
        "lines": [{"product_id": product.id, "quantity": quantity}],
        **extra,
    }


def test_order_intake_and_transitions_with_four_eyes(app, client):
    customer = CustomerFactory()
    product = ProductFactory(stock=10, unit_price=Decimal("12.50"))
    clerk = StaffFactory(role="clerk")
    manager = StaffFactory(role="manager")
    taker = bearer(api_secret(["orders.read", "orders.write", "orders.fulfil"], clerk))
    created = client.post(
        "/api/v1/orders",
        json=order_body(customer, product, 2, shipping_address=ADDRESS, billing_address=ADDRESS),
        headers=taker,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    order = created.get_json()
    assert order["status"] == "pending" and order["subtotal"] == "25.00"
    assert order["shipping_address"]["city"] == "London"
    assert order["lines"][0]["sku"] == product.sku
    stored = db.session.get(Order, order["id"])
    assert stored.created_by_id == clerk.id and stored.placed_at is not None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_id == order["id"])
        )
        == 1
    )
    # The clerk's token cannot approve; the manager's token can, as the manager.
    assert_problem(client.post(f"/api/v1/orders/{order['id']}/approve", headers=taker), 403)
    approver = bearer(api_secret(["orders.read", "orders.approve"], manager))
    approved = client.post(f"/api/v1/orders/{order['id']}/approve", headers=approver)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 8
    assert db.session.get(Order, order["id"]).decided_by_id == manager.id
    no_tracking = client.post(f"/api/v1/orders/{order['id']}/ship", json={}, headers=taker)
    assert "tracking_number" in assert_problem(no_tracking, 422)["errors"]
    shipped = client.post(
        f"/api/v1/orders/{order['id']}/ship", json={"tracking_number": "TRK1"}, headers=taker
    )
    assert shipped.get_json()["status"] == "shipped"
    again = client.post(f"/api/v1/orders/{order['id']}/approve", headers=approver)
    assert "shipped" in assert_problem(again, 422)["detail"]

    # Four eyes: a manager's token cannot approve an order that manager took.
    own = bearer(api_secret(["orders.read", "orders.write", "orders.approve"], manager))
    taken = client.post("/api/v1/orders", json=order_body(customer, product, 1), headers=own)
    refused = client.post(f"/api/v1/orders/{taken.get_json()['id']}/approve", headers=own)
    assert "four-eyes" in assert_problem(refused, 422)["detail"]
    db.session.expire_all()
    assert db.session.get(Order, taken.get_json()["id"]).status == "pending"


def test_order_list_filters_and_pages(app, client):
    customer, other = CustomerFactory(), CustomerFactory(email="other@example.com")
    product = ProductFactory(stock=100)
    for _ in range(3):
        OrderFactory(customer=customer, lines={product: 1})
    OrderFactory(customer=other, lines={product: 1})
    headers = bearer(api_secret(["orders.read"]))
    first = client.get(f"/api/v1/orders?customer_id={customer.id}&limit=2", headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    page = first.get_json()
    assert [o["customer_id"] for o in page["items"]] == [customer.id] * 2
    rest = client.get(
        f"/api/v1/orders?customer_id={customer.id}&limit=2&cursor={page['next_cursor']}",
        headers=headers,
    ).get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert client.get("/api/v1/orders?status=approved", headers=headers).get_json()["items"] == []
    future = "2999-01-01T00:00:00Z"
    assert (
        client.get(f"/api/v1/orders?updated_since={future}", headers=headers).get_json()["items"]
        == []
    )
    assert_problem(client.get("/api/v1/orders?status=lost", headers=headers), 422)


# --- idempotency -----------------------------------------------------------------------


def test_a_repeated_key_returns_the_same_order(app, client):
    customer = CustomerFactory()
    product = ProductFactory(stock=10)
    headers = {**bearer(api_secret(["orders.read", "orders.write"])), "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/orders", json=order_body(customer, product), headers=headers)
    again = client.post("/api/v1/orders", json=order_body(customer, product), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert count(Order) == 1
    other = client.post("/api/v1/orders", json=order_body(customer, product, 3), headers=headers)
    assert "Idempotency-Key" in assert_problem(other, 422)["errors"]
    assert count(Order) == 1


def test_a_refused_request_does_not_keep_its_key(app, client):
    """A key whose request was refused (422) is free for the corrected request."""
    customer = CustomerFactory()
    product = ProductFactory(stock=10)
    headers = {**bearer(api_secret(["orders.read", "orders.write"])), "Idempotency-Key": "k-2"}
    refused = client.post(
        "/api/v1/orders", json=order_body(customer, product, coupon_code="NOPE"), headers=headers
    )
    assert_problem(refused, 422)
    # Another body with the same key: the refused request kept nothing.
    taken = client.post("/api/v1/orders", json=order_body(customer, product), headers=headers)
    assert taken.status_code == 201


def test_concurrent_duplicates_make_one_order(app):
    """Two requests with one key at the same moment (two threads, each its own
    connection): one order, and both get its answer."""
    customer = CustomerFactory()
    product = ProductFactory(stock=10)
    headers = {**bearer(api_secret(["orders.read", "orders.write"])), "Idempotency-Key": "same"}
    body = order_body(customer, product)
    barrier = threading.Barrier(2)
    answers = []

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/orders", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201, 201], [a.get_data() for a in answers]
    assert answers[0].get_json() == answers[1].get_json()
    assert count(Order) == 1


def test_prune_removes_keys_after_a_day(app, client, runner, clock):
    customer = CustomerFactory()
    product = ProductFactory(stock=10)
    headers = {**bearer(api_secret(["orders.read", "orders.write"])), "Idempotency-Key": "old"}
    client.post("/api/v1/orders", json=order_body(customer, product), headers=headers)
    from console.models import IdempotencyKey

    assert runner.invoke(args=["api", "prune-keys"]).output.startswith("Removed 0")
    clock.shift(25 * 3600)
    result = runner.invoke(args=["api", "prune-keys"])
    assert result.exit_code == 0 and result.output.startswith("Removed 1"), result.output
    assert count(IdempotencyKey) == 0
    # The key is free again: the same request now takes a new order.
    client.post("/api/v1/orders", json=order_body(customer, product), headers=headers)
    assert count(Order) == 2


# --- jobs ------------------------------------------------------------------------------


def test_an_export_runs_as_a_job_with_progress_and_result(app, client):
    from console.jobs.runner import run_next

    customer = CustomerFactory()
    product = ProductFactory(stock=10)
    order = OrderFactory(customer=customer, lines={product: 1})
    manager = StaffFactory(role="manager")
    headers = bearer(api_secret(["orders.read", "export"], manager))
    started = client.post("/api/v1/exports/orders?format=csv", headers=headers)
    assert started.status_code == 202, started.get_data(as_text=True)
    job = started.get_json()
    assert started.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    assert job["state"] == "queued" and job["result_url"] is None
    assert_problem(client.get(f"/api/v1/jobs/{job['id']}/result", headers=headers), 409)
    run_next(app)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).get_json()
    assert done["state"] == "done" and done["result_url"], done
    result = client.get(done["result_url"], headers=headers)
    assert result.status_code == 200 and order.number in result.get_data(as_text=True)
    # Another staff member's token does not see the job (nor does a token without a job).
    other = bearer(api_secret(["orders.read"], StaffFactory(role="clerk")))
    assert_problem(client.get(f"/api/v1/jobs/{job['id']}", headers=other), 403)
    assert_problem(client.get("/api/v1/jobs/999999", headers=other), 404)
    assert_problem(client.post("/api/v1/exports/orders?format=pdf", headers=headers), 422)
