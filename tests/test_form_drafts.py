"""A form posted after the session ended is not lost: after signing in again, the same
person is back on the form with what they typed, and nothing is saved until Save."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from console.admin.drafts import RESTORED_MESSAGE
from console.database import db
from console.models import Customer, FormDraft, Order, Role, StaffSession
from tests.audit_support import open_form, signed_in
from tests.factories import (
    STAFF_PASSWORD,
    OrderFactory,
    PromotionFactory,
    StaffFactory,
    catalogue,
)
from tests.helpers import (
    alerts,
    count_rows,
    csrf_token_from,
    form_fields,
    hidden_inputs,
    parse,
    text_of,
)

pytestmark = pytest.mark.settings(CONSOLE_IDLE_TIMEOUT=dt.timedelta(minutes=10))

PAST_THE_TIMEOUT = 10 * 60 + 1
NEW_ORDER = "/admin/order/new/"


def sign_in_at(client, login_url: str, email: str) -> str:
    """Sign in through ``login_url`` (which names where to go next); where it sends to."""
    page = client.get(login_url)
    assert page.status_code == 200
    response = client.post(
        login_url,
        data={
            "email": email,
            "password": STAFF_PASSWORD,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def sent_to_sign_in(response) -> tuple[str, str]:
    """For a response sending to the sign-in page: that page's address and its ``next``."""
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.path == "/login", location
    return f"{parts.path}?{parts.query}", parse_qs(parts.query)["next"][0]


def draft_count() -> int:
    return count_rows(FormDraft)


def three_line_order(products, customer) -> dict[str, str]:
    return {
        "customer": str(customer.id),
        "coupon_code": "SPRING",
        "lines-0-product": str(products["KET-1"].id),
        "lines-0-quantity": "2",
        "lines-1-product": str(products["MUG-1"].id),
        "lines-1-quantity": "5",
        "lines-2-product": str(products["TEA-1"].id),
        "lines-2-quantity": "7",
    }


@pytest.fixture
def clerk(app):
    return StaffFactory(email="clerk@staff.test", role="clerk")


@pytest.fixture
def shop(app):
    PromotionFactory(code="SPRING")  # the code the clerk types
    return catalogue({"KET-1": 20, "MUG-1": 20, "TEA-1": 20})


def post_new_order_after_the_timeout(client, clock, shop) -> tuple[str, str, dict[str, str]]:
    """Open the order form, stay idle past the timeout, then press Save."""
    customer, products = shop
    form = hidden_inputs(client.get(NEW_ORDER).get_data(as_text=True))
    typed = three_line_order(products, customer)
    clock.shift(PAST_THE_TIMEOUT)
    response = client.post(NEW_ORDER, data={**form, **typed})
    login_url, next_url = sent_to_sign_in(response)
    return login_url, next_url, typed


def test_a_three_line_order_posted_after_the_timeout_comes_back_after_sign_in(
    client, clerk, shop, clock
):
    sign_in_at(client, "/login", clerk.email)
    login_url, next_url, typed = post_new_order_after_the_timeout(client, clock, shop)

    # Nothing saved; the entries kept, without the CSRF or one-time token.
    assert count_rows(Order) == 0
    assert urlsplit(next_url).path == NEW_ORDER
    [draft] = db.session.scalars(select(FormDraft))
    kept = dict(draft.fields)
    assert kept == typed
    assert draft.user_id == clerk.id

    notice = text_of(parse(client.get(login_url).get_data(as_text=True)))
    assert "without activity" in notice
    assert "what you typed is kept" in notice

    assert sign_in_at(client, login_url, clerk.email) == next_url
    page = client.get(next_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert str(RESTORED_MESSAGE) in alerts(html)
    fields = form_fields(html)
    for name, value in typed.items():
        assert fields[name] == value, name
    assert count_rows(Order) == 0  # never saved without the person pressing Save
    assert draft_count() == 0  # taken back once

    # The restored form saves as any other (a fresh one-time token included).
    saved = client.post(next_url, data=fields)
    assert saved.status_code == 302
    order = db.session.scalar(select(Order))
    assert order is not None
    assert order.coupon_code == "SPRING"
    assert sorted((line.product.sku, line.quantity) for line in order.lines) == [
        ("KET-1", 2),
        ("MUG-1", 5),
        ("TEA-1", 7),
    ]


def test_a_draft_comes_back_once(client, clerk, shop, clock):
    sign_in_at(client, "/login", clerk.email)
    login_url, next_url, _typed = post_new_order_after_the_timeout(client, clock, shop)
    sign_in_at(client, login_url, clerk.email)
    assert str(RESTORED_MESSAGE) in alerts(client.get(next_url).get_data(as_text=True))
    again = client.get(next_url).get_data(as_text=True)
    assert str(RESTORED_MESSAGE) not in alerts(again)
    assert form_fields(again).get("coupon_code", "") == ""


def test_another_person_signing_in_does_not_get_the_entries(client, clerk, shop, clock):
    StaffFactory(email="other-clerk@staff.test", role="clerk")
    sign_in_at(client, "/login", clerk.email)
    login_url, next_url, typed = post_new_order_after_the_timeout(client, clock, shop)

    assert sign_in_at(client, login_url, "other-clerk@staff.test") == next_url
    html = client.get(next_url).get_data(as_text=True)
    assert str(RESTORED_MESSAGE) not in alerts(html)
    fields = form_fields(html)
    assert fields.get("coupon_code", "") == ""
    assert "lines-0-product" not in fields
    assert typed["coupon_code"] not in html
    assert draft_count() == 1  # still there for its own person, until it expires
    assert count_rows(Order) == 0


def test_the_form_comes_back_when_the_session_ended_before_the_post(client, clerk, shop, clock):
    """Another tab (or the page's script) met the end of the session first: the form
    posted afterwards is still kept, its CSRF token still accepted."""
    customer, products = shop
    sign_in_at(client, "/login", clerk.email)
    form = hidden_inputs(client.get(NEW_ORDER).get_data(as_text=True))
    clock.shift(PAST_THE_TIMEOUT)
    assert client.get("/admin/keepalive/").status_code == 401
    assert client.get("/admin/").status_code == 302  # signed out already

    response = client.post(NEW_ORDER, data={**form, **three_line_order(products, customer)})
    login_url, next_url = sent_to_sign_in(response)
    assert draft_count() == 1
    sign_in_at(client, login_url, clerk.email)
    fields = form_fields(client.get(next_url).get_data(as_text=True))
    assert fields["lines-2-quantity"] == "7"


def test_the_form_comes_back_when_the_session_was_ended_on_the_server(client, clerk, shop):
    customer, products = shop
    sign_in_at(client, "/login", clerk.email)
    form = hidden_inputs(client.get(NEW_ORDER).get_data(as_text=True))
    db.session.execute(StaffSession.__table__.delete())  # "sign out everywhere" elsewhere
    db.session.commit()

    response = client.post(NEW_ORDER, data={**form, **three_line_order(products, customer)})
    login_url, next_url = sent_to_sign_in(response)
    assert "Your session has ended" in text_of(parse(client.get(login_url).get_data(as_text=True)))
    sign_in_at(client, login_url, clerk.email)
    fields = form_fields(client.get(next_url).get_data(as_text=True))
    assert fields["coupon_code"] == "SPRING"
    assert count_rows(Order) == 0


def test_nothing_is_kept_after_signing_out(client, clerk, shop):
    """Signing out on purpose is no lost session: a form posted afterwards is refused."""
    customer, products = shop
    sign_in_at(client, "/login", clerk.email)
    page = client.get(NEW_ORDER).get_data(as_text=True)
    form = hidden_inputs(page)
    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    response = client.post(NEW_ORDER, data={**form, **three_line_order(products, customer)})
    assert response.status_code in (302, 400)
    assert draft_count() == 0
    assert count_rows(Order) == 0


def test_secrets_and_buttons_are_never_kept(client, clerk, clock):
    sign_in_at(client, "/login", clerk.email)
    form = hidden_inputs(client.get("/admin/customer/new/").get_data(as_text=True))
    assert {"csrf_token", "submission"} <= set(form)
    clock.shift(PAST_THE_TIMEOUT)
    response = client.post(
        "/admin/customer/new/",
        data={
            **form,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "password": "hunter2 hunter2",
            "new_password_confirm": "hunter2 hunter2",
            "api_secret": "s3cret",
            "reset_token": "t0ken",
            "_continue_editing": "Save and Continue Editing",
        },
    )
    sent_to_sign_in(response)
    [draft] = db.session.scalars(select(FormDraft))
    assert sorted(name for name, _value in draft.fields) == ["email", "first_name", "last_name"]
    assert count_rows(Customer) == 0


def test_drafts_expire_after_a_day(client, clerk, shop, clock):
    sign_in_at(client, "/login", clerk.email)
    login_url, next_url, _typed = post_new_order_after_the_timeout(client, clock, shop)
    clock.shift(24 * 60 * 60 + 1)
    sign_in_at(client, login_url, clerk.email)
    html = client.get(next_url).get_data(as_text=True)
    assert str(RESTORED_MESSAGE) not in alerts(html)
    assert form_fields(html).get("coupon_code", "") == ""
    assert draft_count() == 0  # the expired draft is deleted


def test_a_restored_edit_form_keeps_its_version_and_is_refused_when_stale(app, clerk, clock):
    customer, products = catalogue({"KET-1": 20, "MUG-1": 20})
    PromotionFactory(code="TYPED")
    PromotionFactory(code="MANAGER")
    order = OrderFactory(customer=customer, lines={products["KET-1"]: 1}, actor=clerk)
    url = f"/admin/order/edit/?id={order.id}"
    client = app.test_client()
    sign_in_at(client, "/login", clerk.email)
    opened = open_form(client, url)
    opened_version = opened["version"]

    clock.shift(PAST_THE_TIMEOUT)
    typed = {**opened, "lines-0-quantity": "4", "coupon_code": "TYPED"}
    login_url, next_url = sent_to_sign_in(client.post(url, data=typed))
    assert parse_qs(urlsplit(next_url).query)["id"] == [str(order.id)]

    # Meanwhile a manager changes the order.
    manager = signed_in(app, "manager")
    changed = open_form(manager, url)
    changed["coupon_code"] = "MANAGER"
    assert manager.post(url, data=changed).status_code == 302

    sign_in_at(client, login_url, clerk.email)
    restored = client.get(next_url)
    html = restored.get_data(as_text=True)
    assert str(RESTORED_MESSAGE) in alerts(html)
    fields = form_fields(html)
    assert fields["lines-0-quantity"] == "4"
    assert fields["coupon_code"] == "TYPED"
    assert fields["version"] == opened_version  # the version it was opened on

    refused = client.post(next_url, data=fields)
    assert refused.status_code == 200
    assert "Someone else changed this order" in alerts(refused.get_data(as_text=True))
    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert stored.coupon_code == "MANAGER"
    assert [line.quantity for line in stored.lines] == [1]


def test_a_draft_is_for_its_own_form_only(client, clerk, shop, clock):
    """The draft's key on another form's address brings nothing back."""
    sign_in_at(client, "/login", clerk.email)
    login_url, next_url, _typed = post_new_order_after_the_timeout(client, clock, shop)
    key = parse_qs(urlsplit(next_url).query)["draft"][0]
    sign_in_at(client, login_url, clerk.email)
    html = client.get(f"/admin/customer/new/?draft={key}").get_data(as_text=True)
    assert str(RESTORED_MESSAGE) not in alerts(html)
    assert draft_count() == 1
    assert db.session.scalar(select(func.count()).select_from(FormDraft)) == 1
    assert parse(html).find(id="session-notice") is not None


def test_a_restored_role_form_shows_the_permissions_ticked_not_the_stored_ones(app, clock):
    admin = StaffFactory(email="admin@staff.test", role="admin")
    role = db.session.scalar(select(Role).filter_by(name="viewer"))
    url = f"/admin/role/edit/?id={role.id}"
    client = app.test_client()
    sign_in_at(client, "/login", admin.email)
    opened = open_form(client, url)
    clock.shift(PAST_THE_TIMEOUT)
    typed = {**opened, "description": "Auditors", "permissions": ["customers.read"]}
    login_url, next_url = sent_to_sign_in(client.post(url, data=typed))

    sign_in_at(client, login_url, admin.email)
    html = client.get(next_url).get_data(as_text=True)
    assert str(RESTORED_MESSAGE) in alerts(html)
    ticked = [box["value"] for box in parse(html).select("input[name=permissions][checked]")]
    assert ticked == ["customers.read"]
    db.session.expire_all()
    assert "export" in db.session.get(Role, role.id).get_permissions()
