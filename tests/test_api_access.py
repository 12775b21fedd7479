"""Every API route against every token scope, the console's token page, per-token limits.

The expected answers come from ``tests/design_matrix.API_ENDPOINTS`` (written by hand),
never from the code's declarations. A token with exactly one permission per scope, a
token with none, and for each route a token with exactly what it needs: 403 (and
nothing changed) where the token lacks a permission, anything but 401/403 where it has
them all.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from console.database import db
from console.models import ApiToken
from console.permissions import ALL_PERMISSIONS
from console.services import api_tokens
from tests.design_matrix import API_ENDPOINTS, allowed_by
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, api_secret, bearer
from tests.fixtures.apps import from_fixture
from tests.helpers import csrf_token_from, parse, snapshot

TOKENS = frozenset({"api_token"})
"""Left out of the snapshots: a request notes its token's last use."""


def samples() -> dict[str, int]:
    customer = CustomerFactory()
    product = ProductFactory(stock=50, unit_price=Decimal("5.00"))
    order = OrderFactory(customer=customer, lines={product: 1})
    return {
        "customer_id": customer.id,
        "product_id": product.id,
        "order_id": order.id,
        "job_id": finished_job(),
    }


def finished_job() -> int:
    """A finished job with its result file, made by an admin (whom every admin's token
    may see)."""
    from flask import current_app

    import tests.job_kinds  # noqa: F401 - the kind of the sample job
    from console.jobs.runner import run_next
    from console.services import jobs as jobs_service
    from tests.factories import StaffFactory

    owner = StaffFactory(role="admin")
    job = jobs_service.start(db.session, owner, "test.steps", {"steps": 1}, title="Sample job")
    run_next(current_app._get_current_object())
    return job.id


def request_for(rule, ids: dict[str, int]) -> tuple[str, str, dict]:
    """Method, path and JSON body that exercise ``rule`` on the sample records."""
    path = rule.rule
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value))
    method = next(m for m in ("POST", "PATCH", "GET") if m in rule.methods)
    endpoint = rule.endpoint
    body: dict = {}
    if endpoint == "api_customers.create":
        body = {"first_name": "New", "last_name": "Person", "email": "new@example.com"}
    elif endpoint == "api_products.create":
        body = {"sku": "NEW-1", "name": "New", "unit_price": "1.00"}
    elif endpoint in {"api_customers.update", "api_products.update"}:
        body = {"name": "Changed"} if "products" in endpoint else {"phone": "1"}
    elif endpoint == "api_orders.create":
        body = {
            "customer_id": ids["customer_id"],
            "lines": [{"product_id": ids["product_id"], "quantity": 1}],
        }
    elif endpoint == "api_products.adjust_stock":
        body = {"reason": "received", "quantity": 1}
    elif endpoint == "api_orders.reject":
        body = {"reason": "Out of area"}
    elif endpoint == "api_orders.ship":
        body = {"tracking_number": "T1"}
    return method, path, body


def test_every_api_route_against_every_token_scope(app, client):
    ids = samples()
    rules = sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint in API_ENDPOINTS),
        key=lambda rule: rule.endpoint,
    )
    assert {rule.endpoint for rule in rules} == set(API_ENDPOINTS)
    scopes: dict[tuple[str, ...], str] = {(): api_secret([])}
    for permission in ALL_PERMISSIONS:
        scopes[(permission,)] = api_secret([permission])
    for needs in set(API_ENDPOINTS.values()):
        scopes.setdefault(tuple(needs), api_secret(needs))
    checked = 0
    for rule in rules:
        method, path, body = request_for(rule, ids)
        for scope, secret in scopes.items():
            before = snapshot(TOKENS)
            kwargs = {"json": body} if method != "GET" else {}
            response = client.open(path, method=method, headers=bearer(secret), **kwargs)
            context = (rule.endpoint, scope, response.status_code, response.get_data(as_text=True))
            if allowed_by(scope, API_ENDPOINTS[rule.endpoint]):
                assert response.status_code not in (401, 403), context
                assert response.status_code < 500, context
                if method == "GET":  # the samples are real records
                    assert response.status_code == 200, context
            else:
                assert response.status_code == 403, context
                assert response.mimetype == "application/problem+json", context
                assert snapshot(TOKENS) == before, (*context, "changed data")
            checked += 1
    assert checked == len(rules) * len(scopes)


# --- the console's token page ------------------------------------------------------------


def test_admin_makes_a_token_shown_once_and_revokes_it(app, client, auth):
    admin = auth.login_as("admin")
    page = client.get("/admin/api_tokens/")
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))
    made = client.post(
        "/admin/api_tokens/new/",
        data={
            "csrf_token": token,
            "name": "Storefront",
            "owner_id": admin.id,
            "permissions": ["customers.read", "orders.read"],
        },
    )
    assert made.status_code == 200
    shown = parse(made.get_data(as_text=True)).select_one("code.api-token-secret")
    assert shown is not None
    secret = shown.get_text()
    stored = db.session.scalar(select(ApiToken).filter_by(name="Storefront"))
    assert stored.token_hash == api_tokens.hash_secret(secret)
    assert stored.permission_list == ["customers.read", "orders.read"]
    # Shown once: the list never shows it again.
    assert secret not in client.get("/admin/api_tokens/").get_data(as_text=True)
    api = app.test_client()
    assert api.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    assert api.get("/api/v1/products", headers=bearer(secret)).status_code == 403

    revoked = client.post(f"/admin/api_tokens/{stored.id}/revoke/", data={"csrf_token": token})
    assert revoked.status_code == 302
    assert api.get("/api/v1/customers", headers=bearer(secret)).status_code == 401


def test_the_token_page_refuses_permissions_the_owner_lacks(app, client, auth):
    from tests.factories import StaffFactory

    auth.login_as("admin")
    clerk = StaffFactory(role="clerk")
    token = csrf_token_from(client.get("/admin/api_tokens/").get_data(as_text=True))
    answer = client.post(
        "/admin/api_tokens/new/",
        data={
            "csrf_token": token,
            "name": "Too much",
            "owner_id": clerk.id,
            "permissions": ["staff.manage"],
        },
    )
    assert "does not hold staff.manage" in answer.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken).filter_by(name="Too much")) is None


# --- per-token limits --------------------------------------------------------------------


@pytest.mark.settings(API_RATE_LIMIT="3 per minute")
def test_each_token_has_its_own_limit(app, client):
    first = bearer(api_secret(["customers.read"]))
    second = bearer(api_secret(["customers.read"]))
    for _ in range(3):
        assert client.get("/api/v1/customers", headers=first).status_code == 200
    refused = client.get("/api/v1/customers", headers=first)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/v1/customers", headers=second).status_code == 200


@pytest.mark.settings(API_RATE_LIMIT="2 per minute", REDIS_URL=from_fixture("redis_server", "url"))
def test_token_limits_are_kept_in_redis_when_configured(app, client, make_app, database_url):
    """A second app (another host) on the same Redis sees the first one's count."""
    secret = api_secret(["customers.read"])
    for _ in range(2):
        assert client.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    other = make_app(database_url, REDIS_URL=app.config["REDIS_URL"], API_RATE_LIMIT="2 per minute")
    assert other.test_client().get("/api/v1/customers", headers=bearer(secret)).status_code == 429
