"""The permission matrix, checked over every URL rule the app has at run time.

The test walks ``app.url_map`` (so views added later are covered without editing it)
and asks, for anonymous visitors and each role, every GET endpoint and every POST
endpoint. The expected answer comes from the endpoint's declared requirement
(``console.admin.registry.endpoint_requirement``) and the DESIGN.md matrix
(``ROLE_PERMISSIONS``): 200 where allowed, 403 where not, the login page for
anonymous visitors. An endpoint without a declared permission fails the test.
Forbidden POSTs carry real record ids and plausible form data, and must change
nothing in the database.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from console.admin.registry import endpoint_requirement, register_view, registered_views
from console.database import db
from console.models import Order, Product, Role, User
from console.permissions import PUBLIC, ROLE_PERMISSIONS, STAFF_MANAGE, UndeclaredPermission
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import ROLES, csrf_token_from

PRINCIPALS = ["anonymous", *ROLES]

# Plausible values for any create/edit form; fields a view lacks are ignored.
FORGED_FORM = {
    "first_name": "Forged",
    "last_name": "Forged",
    "email": "forged@example.com",
    "sku": "FORGED-1",
    "name": "forged",
    "description": "forged",
    "unit_price": "1.00",
    "stock": "1",
    "active": "y",
    "password": "a forged but long enough password",
    "permissions": STAFF_MANAGE,
    "coupon_code": "FORGED",
}


def sample_records() -> None:
    """One record of each model, so edit/details/delete endpoints have something.

    The order is taken through the order service, which queues its "order received"
    e-mail: a notification to look at.
    """
    customer = CustomerFactory()
    product = ProductFactory(sku="SKU-1", name="Kettle")
    OrderFactory(customer=customer, lines={product: 2})
    if db.session.scalar(select(User).filter_by(email="sample@staff.test")) is None:
        StaffFactory(email="sample@staff.test", role="clerk")


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused request changed nothing."""
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in db.metadata.sorted_tables
        }


def admin_views(app) -> dict:
    return {view.endpoint: view for view in registered_views(app)}


def first_pk(view) -> str:
    record = db.session.scalar(select(view.model).limit(1))
    assert record is not None, f"no {view.model.__name__} to test {view.endpoint} with"
    return str(view.get_pk_value(record))


def url_values(rule) -> list[dict]:
    """Each set of URL arguments to try ``rule`` with (one per workflow transition...)."""
    from console.services.workflow import TRANSITIONS

    choices: dict[str, list] = {}
    for argument in rule.arguments:
        if argument == "export_type":
            choices[argument] = ["csv"]
        elif argument == "order_id":
            choices[argument] = [db.session.scalar(select(Order.id).limit(1))]
        elif argument == "transition_name":
            choices[argument] = list(TRANSITIONS)
        else:
            pytest.fail(f"{rule.rule}: the matrix test does not know argument {argument!r}")
    combos: list[dict] = [{}]
    for argument, options in choices.items():
        combos = [{**combo, argument: option} for combo in combos for option in options]
    return combos


def build_url(app, rule, views, values: dict) -> tuple[str, dict, dict]:
    """URL, query arguments and POST data that exercise ``rule`` on a real record."""
    blueprint, _, method = rule.endpoint.rpartition(".")
    view = views.get(blueprint)
    query: dict = {}
    data: dict = dict(FORGED_FORM)
    if view is not None and hasattr(view, "model"):
        pk = first_pk(view)
        if method in ("edit_view", "details_view", "delete_view"):
            query["id"] = pk
        if method == "delete_view":
            data = {"id": pk}
        if method == "ajax_update":
            data = {"list_form_pk": pk, **FORGED_FORM}
        if method == "ajax_lookup":
            refs = list(getattr(view, "_form_ajax_refs", {}) or {})
            query.update(name=refs[0] if refs else "none", query="")
        if method == "action_view":
            data = {"rowid": pk}
    return url_for(rule.endpoint, **values), query, data


def endpoint_missing_feature(view, method: str) -> bool:
    """Flask-Admin answers 404 for endpoints the view does not use at all."""
    if method == "ajax_update":
        return not view.column_editable_list
    if method == "ajax_lookup":
        return not getattr(view, "_form_ajax_refs", None)
    return False


def expected_allowed(requirement, role: str | None) -> bool:
    if role is None or requirement is None:
        return False
    return set(requirement) <= ROLE_PERMISSIONS[role]


def assert_login_redirect(response, path: str) -> None:
    assert response.status_code == 302, (path, response.status_code)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login", (path, response.headers["Location"])
    assert parse_qs(location.query)["next"][0].split("?")[0] == path


def test_every_endpoint_declares_its_permission(app):
    """A view (or list action) added without a declared permission fails here."""
    views = admin_views(app)
    for rule in app.url_map.iter_rules():
        endpoint_requirement(app, rule.endpoint)  # raises when undeclared
    for view in views.values():
        for name, _text in getattr(view, "_actions", []):
            view.action_permission(name)


def test_undeclared_view_is_detected_and_closed(app, client, auth):
    """The declaration check is real: a view added without one is reported and closed."""
    from flask_admin import expose

    from console.admin.base import SecuredBaseView

    class Undeclared(SecuredBaseView):
        @expose("/")
        def index(self):
            return "should never be shown"

    register_view(app, Undeclared(name="Undeclared", endpoint="probe"))
    with pytest.raises(UndeclaredPermission):
        endpoint_requirement(app, "probe.index")
    auth.login_as("admin")
    assert client.get("/admin/probe/").status_code == 403


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_permission_matrix(app, client, auth, principal):
    sample_records()
    role = None if principal == "anonymous" else principal
    if role:
        auth.login_as(role)
        token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    else:
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
    views = admin_views(app)
    checked = 0

    cases = [
        (rule, values)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
        if endpoint_requirement(app, rule.endpoint) != PUBLIC
        for values in url_values(rule)
    ]
    for rule, values in cases:
        blueprint, _, method = rule.endpoint.rpartition(".")
        view = views[blueprint]
        with app.test_request_context():
            url, query, data = build_url(app, rule, views, values)
        path = urlsplit(url).path
        # Asked inside a request for this URL: some requirements depend on its arguments
        # (a workflow button asks for its own transition's permission).
        with app.test_request_context(path, method="POST" if "POST" in rule.methods else "GET"):
            requirement = endpoint_requirement(app, rule.endpoint)
        allowed = expected_allowed(requirement, role)
        missing = endpoint_missing_feature(view, method)

        if "GET" in rule.methods:
            response = client.get(path, query_string=query)
            if role is None:
                assert_login_redirect(response, path)
            elif allowed and missing:
                assert response.status_code == 404, (principal, "GET", path)
            elif allowed:
                assert response.status_code == 200, (principal, "GET", path, response.status)
            else:
                assert response.status_code == 403, (principal, "GET", path, response.status)
            checked += 1

        if "POST" in rule.methods:
            posts = [(data, requirement)]
            if method == "action_view":
                posts = [
                    ({**data, "action": name}, view.action_permission(name))
                    for name, _text in view._actions
                ] or [({**data, "action": "delete"}, None)]
            for form, needed in posts:
                before = snapshot()
                response = client.post(path, query_string=query, data={**form, "csrf_token": token})
                if role is None:
                    assert_login_redirect(response, path)
                    assert snapshot() == before, (principal, "POST", path, "changed data")
                elif expected_allowed(needed, role):
                    assert response.status_code < 500, (principal, "POST", path)
                    assert response.status_code != 403, (principal, "POST", path, form)
                else:
                    assert response.status_code == 403, (
                        principal,
                        "POST",
                        path,
                        form,
                        response.headers.get("Location"),
                    )
                    assert snapshot() == before, (principal, "POST", path, "changed data")
                checked += 1
        # Allowed POSTs may have changed or deleted the sample records; restore them.
        if not db.session.scalar(select(Order).limit(1)) or not db.session.scalar(
            select(Product).limit(1)
        ):
            sample_records()
    assert checked > 40


def test_forged_edit_is_effective_for_the_permitted_role(app, client, auth):
    """Control for the matrix: the forged form data does change a row when allowed,
    so an unchanged database for the other roles means the refusal worked."""
    sample_records()
    product = db.session.scalar(select(Product))
    auth.login_as("manager")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    response = client.post(
        "/admin/product/edit/",
        query_string={"id": product.id},
        data={**FORGED_FORM, "version": str(product.version), "csrf_token": token},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Product, product.id).name == "forged"


def test_menu_shows_exactly_the_permitted_views(app, client, auth):
    """The menu lists the views a role may open, and no others."""
    menu = {
        "/admin/order/": "orders.read",
        "/admin/pending/": "orders.approve",
        "/admin/customer/": "customers.read",
        "/admin/product/": "products.read",
        "/admin/notification/": "notifications.read",
        "/admin/audit/": "audit.read",
        "/admin/staff_user/": "staff.manage",
        "/admin/role/": "staff.manage",
    }
    for role in ROLES:
        client.delete_cookie("session", domain="console.test")
        auth.login_as(role)
        html = client.get("/admin/").get_data(as_text=True)
        nav = html[html.index("<nav") : html.index("</nav>")]
        for url, permission in menu.items():
            shown = f'href="{url}"' in nav
            assert shown == (permission in ROLE_PERMISSIONS[role]), (role, url)
        auth.logout()


def test_buttons_follow_permissions(app, client, auth):
    """Clerks see Create on customers but no Delete; viewers see Export, nothing else."""
    sample_records()
    auth.login_as("clerk")
    html = client.get("/admin/customer/").get_data(as_text=True)
    assert "/admin/customer/new/" in html
    assert "/admin/customer/delete/" not in html
    assert "/admin/customer/export/csv/" not in html
    auth.logout()
    auth.login_as("viewer")
    html = client.get("/admin/customer/").get_data(as_text=True)
    assert "/admin/customer/new/" not in html
    assert "/admin/customer/edit/" not in html
    assert "/admin/customer/export/csv/" in html


def test_role_permissions_are_read_from_the_database(app, client, auth):
    """An admin's edit of a role applies on the next request, not at start-up."""
    sample_records()
    auth.login_as("viewer")
    assert client.get("/admin/customer/export/csv/").status_code == 200
    role = db.session.scalar(select(Role).filter_by(name="viewer"))
    role.permissions = sorted(ROLE_PERMISSIONS["viewer"] - {"export"})
    db.session.commit()
    assert client.get("/admin/customer/export/csv/").status_code == 403
