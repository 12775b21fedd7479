"""An authenticator code works once: the same code cannot sign in a second session."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from console.database import db
from console.models import User
from tests.helpers import Auth, csrf_token_from
from tests.test_signin import _set_up_authenticator


def _code_step(client, code: str):
    token = csrf_token_from(client.get("/tf-validate").get_data(as_text=True))
    return client.post("/tf-validate", data={"code": code, "csrf_token": token})


def test_a_totp_code_signs_in_only_once(app, client, auth, clock):
    auth.login_as("clerk")
    secret = _set_up_authenticator(client)
    auth.logout()
    clock.shift(30)  # a time step the set-up did not use
    code = pyotp.TOTP(secret).now()

    assert auth.login("clerk@staff.test").status_code == 302
    assert _code_step(client, code).status_code == 302
    assert client.get("/admin/").status_code == 200

    other = app.test_client()  # a second browser, same code, same time step
    assert Auth(other).login("clerk@staff.test").status_code == 302
    replay = _code_step(other, code)
    assert replay.status_code == 200
    assert other.get("/admin/").status_code == 302

    clock.shift(30)  # the next step's code works
    assert _code_step(other, pyotp.TOTP(secret).now()).status_code == 302
    assert other.get("/admin/").status_code == 200
    db.session.expire_all()
    stored = db.session.scalar(
        select(User.tf_totp_last_counter).filter_by(email="clerk@staff.test")
    )
    assert stored is not None
