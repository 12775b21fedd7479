"""Staff management for administrators: accounts, roles, guards, re-authentication."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, Role, User
from console.permissions import CUSTOMERS_DELETE, ROLE_PERMISSIONS, STAFF_MANAGE
from console.services import staff as staff_service
from console.services.errors import DomainError
from tests.factories import StaffFactory
from tests.fixtures.servers import mail_relay
from tests.helpers import (
    STAFF_PASSWORD,
    count_rows,
    csrf_token_from,
    form_token,
    parse,
    submit,
    text_of,
)

pytestmark = pytest.mark.settings(**mail_relay("smtp"))


@pytest.fixture
def smtp(module_smtp_server):
    """The module's SMTP server, emptied for this test."""
    module_smtp_server.messages.clear()
    return module_smtp_server


def role_id(name: str) -> int:
    return db.session.scalar(select(Role.id).filter_by(name=name))


def account(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


def flashes(html: str) -> str:
    """Flashed messages and field errors: what the page tells the person."""
    found = parse(html).select(".alert, .invalid-feedback")
    return " ".join(text_of(element) for element in found)


# --- accounts --------------------------------------------------------------------------


def test_admin_creates_account_by_invitation(client, auth):
    """No password is typed: the account waits for its person (tests/test_invitations.py)."""
    auth.login_as("admin")
    token = form_token(client, "/admin/staff_user/new/")
    response = client.post(
        "/admin/staff_user/new/",
        data={
            "email": " New.Clerk@Staff.test ",
            "roles": [str(role_id("clerk"))],
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Invitation e-mailed to new.clerk@staff.test" in flashes(response.get_data(as_text=True))
    created = account("new.clerk@staff.test")
    assert created is not None and not created.active and created.password is None
    assert [role.name for role in created.roles] == ["clerk"]
    listing = text_of(parse(client.get("/admin/staff_user/").get_data(as_text=True)))
    assert "new.clerk@staff.test" in listing and "Invited (sent " in listing


@pytest.mark.parametrize(
    ("email", "roles", "message"),
    [
        ("not-an-email", ["clerk"], "valid e-mail"),
        ("admin@staff.test", ["clerk"], "already exists"),
        ("no-role@staff.test", [], "at least one role"),
    ],
)
def test_bad_account_input_is_explained_and_changes_nothing(client, auth, email, roles, message):
    auth.login_as("admin")
    before = count_rows(User)
    token = form_token(client, "/admin/staff_user/new/")
    response = client.post(
        "/admin/staff_user/new/",
        data={"email": email, "roles": [role_id(r) for r in roles], "csrf_token": token},
    )
    assert response.status_code == 200
    shown = flashes(response.get_data(as_text=True))
    assert message in shown.lower(), shown
    assert count_rows(User) == before


def edit_account(client, user: User, *, active: bool, roles: list[str]):
    url = f"/admin/staff_user/edit/?id={user.id}"
    data = {"roles": [str(role_id(name)) for name in roles]}
    if active:
        data["active"] = "y"
    # The form's hidden fields go back with it: the CSRF token and the version.
    return submit(client, url, data, follow_redirects=True)


def test_deactivating_an_account_signs_it_out(app, client, auth):
    other = app.test_client()
    from tests.helpers import Auth

    Auth(other).login_as("clerk")
    assert other.get("/admin/").status_code == 200
    auth.login_as("admin")
    response = edit_account(client, account("clerk@staff.test"), active=False, roles=["clerk"])
    assert response.status_code == 200
    assert account("clerk@staff.test").active is False
    assert other.get("/admin/").status_code == 302
    assert Auth(other).login("clerk@staff.test").status_code == 200  # refused


def test_admin_assigns_roles(client, auth):
    StaffFactory(email="someone@staff.test", role="viewer")
    auth.login_as("admin")
    edit_account(client, account("someone@staff.test"), active=True, roles=["clerk", "viewer"])
    assert sorted(r.name for r in account("someone@staff.test").roles) == ["clerk", "viewer"]


def test_admin_cannot_remove_own_admin_role(client, auth):
    auth.login_as("admin")
    StaffFactory(email="second-admin@staff.test", role="admin")
    me = account("admin@staff.test")
    response = edit_account(client, me, active=True, roles=["manager"])
    assert "your own administrator rights" in flashes(response.get_data(as_text=True))
    assert [r.name for r in account("admin@staff.test").roles] == ["admin"]
    # another admin's role can be changed
    edit_account(client, account("second-admin@staff.test"), active=True, roles=["manager"])
    assert [r.name for r in account("second-admin@staff.test").roles] == ["manager"]


def test_last_active_admin_cannot_be_deactivated_or_stripped(app, client, auth):
    auth.login_as("admin")
    me = account("admin@staff.test")
    for active, roles in [(False, ["admin"]), (True, []), (True, ["viewer"])]:
        response = edit_account(client, me, active=active, roles=roles)
        assert response.status_code == 200
        assert "administrator" in flashes(response.get_data(as_text=True))
        me = account("admin@staff.test")
        assert me.active and [r.name for r in me.roles] == ["admin"]


def test_guards_hold_in_the_service_too(app):
    """The rules live in the service, whatever calls it (views, scripts)."""
    admin = StaffFactory(email="admin@staff.test", role="admin")
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    with pytest.raises(DomainError, match="own administrator rights"):
        staff_service.update_staff(db.session, admin, admin, active=False, roles=admin.roles)
    with pytest.raises(DomainError, match="Only an administrator"):
        staff_service.update_staff(db.session, clerk, clerk, active=True, roles=[])
    admin_role = db.session.scalar(select(Role).filter_by(name="admin"))
    with pytest.raises(DomainError, match="own administrator rights"):
        staff_service.set_role_permissions(db.session, admin, admin_role, ["customers.read"])
    assert STAFF_MANAGE in account("admin@staff.test").roles[0].get_permissions()
    with pytest.raises(DomainError, match="Unknown permission"):
        staff_service.set_role_permissions(db.session, admin, admin_role, ["everything"])
    # With a second admin the first may step down, and the rule still keeps one.
    second = StaffFactory(email="second@staff.test", role="admin")
    staff_service.update_staff(db.session, second, admin, active=False, roles=[admin_role])
    assert account("admin@staff.test").active is False
    with pytest.raises(DomainError):
        staff_service.update_staff(db.session, second, second, active=False, roles=[admin_role])
    assert account("second@staff.test").active is True


# --- roles -----------------------------------------------------------------------------


def test_admin_edits_role_permissions_and_they_apply(app, client, auth):
    db.session.add(Customer(first_name="A", last_name="B", email="ab@example.com"))
    db.session.commit()
    clerk = app.test_client()
    from tests.helpers import Auth

    Auth(clerk).login_as("clerk")
    customer_id = db.session.scalar(select(Customer.id))
    token = csrf_token_from(clerk.get("/admin/customer/").get_data(as_text=True))
    assert (
        clerk.post(
            "/admin/customer/delete/", data={"id": customer_id, "csrf_token": token}
        ).status_code
        == 403
    )

    auth.login_as("admin")
    url = f"/admin/role/edit/?id={role_id('clerk')}"
    page = client.get(url).get_data(as_text=True)
    ticked = {
        box["value"]
        for box in parse(page).find_all("input", attrs={"name": "permissions", "checked": True})
    }
    assert ticked == set(ROLE_PERMISSIONS["clerk"])
    wanted = sorted(ROLE_PERMISSIONS["clerk"] | {CUSTOMERS_DELETE})
    response = client.post(
        url,
        data={"description": "Clerks", "permissions": wanted, "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert sorted(db.session.get(Role, role_id("clerk")).get_permissions()) == wanted

    assert (
        clerk.post(
            "/admin/customer/delete/", data={"id": customer_id, "csrf_token": token}
        ).status_code
        == 302
    )
    assert count_rows(Customer) == 0


def test_removing_staff_manage_from_own_role_is_refused(client, auth):
    auth.login_as("admin")
    url = f"/admin/role/edit/?id={role_id('admin')}"
    token = form_token(client, url)
    response = client.post(
        url, data={"permissions": ["customers.read"], "csrf_token": token}, follow_redirects=True
    )
    assert "administrator" in flashes(response.get_data(as_text=True))
    db.session.expire_all()
    assert STAFF_MANAGE in db.session.get(Role, role_id("admin")).get_permissions()


# --- forced reset and re-authentication -----------------------------------------------------


def test_force_password_reset(app, client, auth, smtp):
    other = app.test_client()
    from tests.helpers import Auth

    Auth(other).login_as("clerk")
    auth.login_as("admin")
    clerk = account("clerk@staff.test")
    token = csrf_token_from(client.get("/admin/staff_user/").get_data(as_text=True))
    response = client.post(
        "/admin/staff_user/action/",
        data={"action": "force_password_reset", "rowid": [str(clerk.id)], "csrf_token": token},
        follow_redirects=True,
    )
    assert "Password reset forced for 1" in response.get_data(as_text=True)
    assert not account("clerk@staff.test").verify_and_update_password(STAFF_PASSWORD)
    assert other.get("/admin/").status_code == 302  # signed out everywhere
    from console.notify.dispatcher import deliver_due

    deliver_due()  # the reset e-mail went to the outbox; a worker sends it
    deadline = time.monotonic() + 5
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["To"] for m in smtp.received] == ["clerk@staff.test"]


def test_staff_changes_need_a_recent_sign_in(app, client, auth):
    auth.login_as("admin")
    assert client.get("/admin/staff_user/new/").status_code == 200
    # Pretend the sign-in happened two hours ago and no grace period is running.
    with client.session_transaction() as session:
        session["fs_paa"] = time.time() - 7200
        session.pop("fs_gexp", None)
    assert client.get("/admin/staff_user/").status_code == 200  # reading is fine
    response = client.get("/admin/staff_user/new/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/verify"
    assert parse_qs(location.query)["next"] == ["/admin/staff_user/new/"]

    page = client.get(response.headers["Location"])
    token = csrf_token_from(page.get_data(as_text=True))
    wrong = client.post(
        "/verify",
        query_string={"next": "/admin/staff_user/new/"},
        data={"password": "not my password", "csrf_token": token},
    )
    assert wrong.status_code == 200
    done = client.post(
        "/verify",
        query_string={"next": "/admin/staff_user/new/"},
        data={"password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert done.status_code == 302
    assert urlsplit(done.headers["Location"]).path == "/admin/staff_user/new/"
    assert client.get("/admin/staff_user/new/").status_code == 200


def test_stale_staff_action_asks_for_password_and_changes_nothing(app, client, auth):
    StaffFactory(email="clerk@staff.test", role="clerk")
    auth.login_as("admin")
    token = csrf_token_from(client.get("/admin/staff_user/").get_data(as_text=True))
    with client.session_transaction() as session:
        session["fs_paa"] = time.time() - 7200
        session.pop("fs_gexp", None)
    clerk_id = account("clerk@staff.test").id
    response = client.post(
        "/admin/staff_user/action/",
        data={"action": "force_password_reset", "rowid": [str(clerk_id)], "csrf_token": token},
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/verify"
    assert parse_qs(location.query)["next"] == ["/admin/staff_user/"]
    assert account("clerk@staff.test").verify_and_update_password(STAFF_PASSWORD)


def test_reset_two_factor_for_a_lost_phone(app, client, auth):
    person = StaffFactory(email="clerk@staff.test", role="clerk")
    person.tf_primary_method = "authenticator"
    person.tf_totp_secret = "stored-secret"
    db.session.commit()
    assert auth.login("clerk@staff.test").headers["Location"].startswith("/tf-validate")
    client.delete_cookie("session", domain="console.test")

    auth.login_as("admin")
    token = csrf_token_from(client.get("/admin/staff_user/").get_data(as_text=True))
    response = client.post(
        "/admin/staff_user/action/",
        data={"action": "reset_two_factor", "rowid": [str(person.id)], "csrf_token": token},
        follow_redirects=True,
    )
    assert "Two-factor sign-in reset for 1" in response.get_data(as_text=True)
    reset = account("clerk@staff.test")
    assert reset.tf_primary_method is None and reset.tf_totp_secret is None
    auth.logout()
    assert auth.login("clerk@staff.test").headers["Location"] == "/admin/"
