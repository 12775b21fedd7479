"""Sessions live on the server: sign-out ends them for good, people and admins see them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from console.database import db
from console.models import Role, StaffSession, User
from tests.factories import STAFF_PASSWORD, StaffFactory
from tests.helpers import Auth, csrf_token_from, form_token, parse, submit, text_of

NEW_PASSWORD = "a brand new passphrase for the console"


def sessions_of(email: str) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count())
        .select_from(StaffSession)
        .join(User, StaffSession.user_id == User.id)
        .where(User.email == email)
    )


def signed_in(client) -> bool:
    """True when ``client`` still opens the console (a sign-in page is the other answer)."""
    response = client.get("/admin/")
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
        return False
    assert response.status_code == 200
    return True


def second_browser(app, email: str, user_agent: str = "OtherBrowser/2.0"):
    """Another client (another browser) signed in as ``email``."""
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = user_agent
    assert Auth(other).login(email).status_code == 302
    return other


def session_table(html: str) -> list[list[str]]:
    table = parse(html).find("table", class_="sessions")
    return [[text_of(cell) for cell in row.find_all("td")] for row in table.select("tr.session")]


def test_a_copied_cookie_stops_working_after_sign_out(client, auth):
    auth.login_as("clerk")
    assert signed_in(client)
    copied = client.get_cookie("session", domain="console.test").value
    auth.logout()
    assert not signed_in(client)
    client.set_cookie("session", copied, domain="console.test")
    assert not signed_in(client)
    assert client.get("/admin/customer/").status_code == 302
    assert sessions_of("clerk@staff.test") == 0


def test_a_sign_in_starts_one_server_session_and_sign_out_ends_it(client, auth):
    auth.login_as("clerk")
    assert sessions_of("clerk@staff.test") == 1
    auth.logout()
    assert sessions_of("clerk@staff.test") == 0


def test_a_session_ended_on_the_server_signs_its_browser_out(client, auth):
    auth.login_as("clerk")
    db.session.execute(StaffSession.__table__.delete())
    db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    page = client.get("/login").get_data(as_text=True)
    assert "Your session has ended" in page


def test_people_see_their_sessions_and_sign_out_everywhere_else(app, client, auth):
    auth.login_as("clerk")
    other = second_browser(app, "clerk@staff.test")
    page = client.get("/admin/sessions/")
    assert page.status_code == 200
    rows = session_table(page.get_data(as_text=True))
    assert len(rows) == 2
    assert any("OtherBrowser/2.0" in row[3] for row in rows)
    assert all(row[2] == "127.0.0.1" for row in rows)
    assert sum("this browser" in row[4] for row in rows) == 1
    # The user menu leads there.
    links = [a.get("href") for a in parse(page.get_data(as_text=True)).select("nav a")]
    assert "/admin/sessions/" in links

    token = csrf_token_from(page.get_data(as_text=True))
    ended = client.post("/admin/sessions/end-others/", data={"csrf_token": token})
    assert ended.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert sessions_of("clerk@staff.test") == 1


def test_an_admin_sees_and_ends_a_persons_sessions(app, client, auth):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    clerk_browser = second_browser(app, "clerk@staff.test", "ClerkBrowser/1.0")
    auth.login_as("admin")
    url = f"/admin/staff_user/details/?id={clerk.id}"
    page = client.get(url).get_data(as_text=True)
    [row] = session_table(page)
    assert "ClerkBrowser/1.0" in row[3]
    action = parse(page).find("form", class_="sign-out-everywhere")["action"]
    response = client.post(action, data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    assert not signed_in(clerk_browser)
    assert sessions_of("clerk@staff.test") == 0
    assert signed_in(client)


def test_only_staff_managers_end_other_peoples_sessions(app, client, auth):
    admin = StaffFactory(email="admin@staff.test", role="admin")
    admin_browser = second_browser(app, "admin@staff.test")
    auth.login_as("manager")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    response = client.post(
        f"/admin/staff_user/sessions/end/?id={admin.id}", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert signed_in(admin_browser)
    assert client.get(f"/admin/staff_user/details/?id={admin.id}").status_code == 403


def test_a_password_change_ends_the_other_sessions(app, client, auth):
    auth.login_as("clerk")
    other = second_browser(app, "clerk@staff.test")
    token = csrf_token_from(client.get("/change").get_data(as_text=True))
    response = client.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert sessions_of("clerk@staff.test") == 1


@pytest.mark.parametrize("change", ["roles", "deactivate"])
def test_a_role_change_or_deactivation_ends_the_persons_sessions(app, client, auth, change):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    clerk_browser = second_browser(app, "clerk@staff.test")
    auth.login_as("admin")
    viewer_id = db.session.scalar(select(Role.id).filter_by(name="viewer"))
    clerk_id = db.session.scalar(select(Role.id).filter_by(name="clerk"))
    data = {"roles": [str(clerk_id), str(viewer_id)], "active": "y"}
    if change == "deactivate":
        data = {"roles": [str(clerk_id)]}
    response = submit(client, f"/admin/staff_user/edit/?id={clerk.id}", data)
    assert response.status_code == 302
    assert not signed_in(clerk_browser)
    assert sessions_of("clerk@staff.test") == 0
    assert signed_in(client)


def test_an_admin_changing_their_own_roles_stays_signed_in(app, client, auth):
    admin = auth.login_as("admin")
    StaffFactory(email="second-admin@staff.test", role="admin")
    other = second_browser(app, "admin@staff.test")
    admin_id = db.session.scalar(select(Role.id).filter_by(name="admin"))
    viewer_id = db.session.scalar(select(Role.id).filter_by(name="viewer"))
    token = form_token(client, f"/admin/staff_user/edit/?id={admin.id}")
    assert token
    response = submit(
        client,
        f"/admin/staff_user/edit/?id={admin.id}",
        {"roles": [str(admin_id), str(viewer_id)], "active": "y"},
    )
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
