"""Sign-in, sign-out, refused sign-ins, password and 2FA changes reach the trail."""

from __future__ import annotations

import json

from console.database import db
from tests.audit_support import events, signed_in, staff_email
from tests.factories import StaffFactory
from tests.helpers import STAFF_PASSWORD, Auth, accounts_datastore, csrf_token_from


def test_sign_in_and_sign_out_are_recorded_with_the_client_address(app):
    browser = signed_in(app, "clerk")
    user = accounts_datastore().find_user(email=staff_email("clerk"))
    [login] = events(action="login")
    assert (login.actor_id, login.actor_email) == (user.id, staff_email("clerk"))
    assert (login.record_type, login.record_id) == ("staff_user", user.id)
    assert login.client_addr == "127.0.0.1"
    assert login.request_id and login.note == "Signed in with password."

    page = browser.get("/admin/")
    browser.post("/logout", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    [logout] = events(action="logout")
    assert logout.actor_email == staff_email("clerk") and logout.record_id == user.id
    assert logout.request_id != login.request_id


def test_wrong_password_is_recorded_against_the_account_not_as_its_owner(app):
    user = StaffFactory(email=staff_email("manager"), role="manager")
    response = Auth(app.test_client()).login(staff_email("manager"), password="not the password")
    assert response.status_code == 200
    [failed] = events(action="login_failed")
    assert failed.actor_email == "anonymous" and failed.actor_id is None
    assert (failed.record_type, failed.record_id) == ("staff_user", user.id)
    assert failed.note == "Sign-in failed: wrong password."
    assert events(action="login") == []


def test_sign_in_to_an_unknown_account_is_recorded(app):
    Auth(app.test_client()).login("nobody@example.com", password="guess")
    [failed] = events(action="login_failed")
    assert failed.record_id is None and failed.record_type == "staff_user"
    assert failed.note == "Sign-in refused: no staff account nobody@example.com."


def test_a_password_typed_into_the_email_field_is_not_stored(app):
    Auth(app.test_client()).login("hunter2 my secret", password="guess")
    dump = json.dumps([[e.note, e.changes, e.record_label] for e in events()])
    assert "hunter2" not in dump
    [failed] = events(action="login_failed")
    assert "(not an e-mail address)" in failed.note


def test_sign_in_to_a_disabled_account_is_recorded(app):
    user = StaffFactory(email=staff_email("viewer"), role="viewer")
    user.active = False
    db.session.commit()
    Auth(app.test_client()).login(staff_email("viewer").upper())
    [failed] = events(action="login_failed")
    assert failed.record_id == user.id
    assert "disabled" in failed.note


def test_password_change_is_one_event_without_the_hash(app):
    browser = signed_in(app, "admin")
    user = accounts_datastore().find_user(email=staff_email("admin"))
    old_hash = user.password
    page = browser.get("/change")
    response = browser.post(
        "/change",
        data={
            "password": STAFF_PASSWORD,
            "new_password": "a brand new passphrase 42",
            "new_password_confirm": "a brand new passphrase 42",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    new_hash = accounts_datastore().find_user(email=staff_email("admin")).password
    assert new_hash != old_hash
    [changed] = events(action="password_changed")
    assert changed.actor_email == staff_email("admin")
    assert changed.changes == {"password": ["[redacted]", "[redacted]"]}
    # The sign-in Flask-Security does after the change is not a separate sign-in.
    assert len(events(action="login")) == 1
    assert events(record_type="staff_user", action="update") == []
    dump = json.dumps([e.changes for e in events()])
    for secret in (old_hash, new_hash, "a brand new passphrase 42", user.fs_uniquifier):
        assert secret not in dump


def test_two_factor_changes_are_recorded_without_the_secret(app):
    from flask_security.signals import tf_profile_changed
    from flask_security.twofactor import tf_disable

    user = StaffFactory(email=staff_email("manager"), role="manager")
    secret = "NBSWY3DPO5XXE3DEFY3TSMRQGEZDG4ZV"  # a base32 TOTP secret
    with app.test_request_context("/tf-setup", method="POST"):
        # What Flask-Security's 2FA setup does once the code is confirmed.
        accounts_datastore().tf_set(user, "authenticator", totp_secret=secret)
        tf_profile_changed.send(app, user=user, method="authenticator")
        db.session.commit()
    with app.test_request_context("/tf-setup", method="POST"):
        tf_disable(user)
        db.session.commit()
    changed = events(action="2fa_changed")
    assert [e.note for e in changed] == [
        "Two-factor settings changed (method: authenticator).",
        "Two-factor sign-in disabled.",
    ]
    assert changed[0].changes == {
        "tf_primary_method": [None, "authenticator"],
        "tf_totp_secret": ["[redacted]", "[redacted]"],
    }
    assert secret not in json.dumps([e.changes for e in events()])


def test_each_request_gets_its_own_request_id_with_the_plain_client(app, client, auth):
    """The suite's ``client`` keeps one app context across requests; events still commit."""
    StaffFactory(email=staff_email("viewer"), role="viewer")
    assert auth.login(staff_email("viewer")).status_code == 302
    auth.logout()
    login, logout = events(action="login")[0], events(action="logout")[0]
    assert login.request_id != logout.request_id
    assert logout.actor_email == staff_email("viewer")


def test_a_wrong_password_when_re_authenticating_names_the_signed_in_person(app):
    browser = signed_in(app, "manager")
    page = browser.get("/verify")
    browser.post(
        "/verify",
        data={
            "password": "not my password",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    [failed] = events(action="login_failed")
    assert failed.actor_email == staff_email("manager")
    assert failed.note == "Re-authentication failed: wrong password."
