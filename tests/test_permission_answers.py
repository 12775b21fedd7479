"""``console.permissions.can`` answers each question once per request and identity: a
page asks the same few many times (a menu entry, an action, a button each), and a
sign-in or sign-out within the request is answered for the new identity."""

from __future__ import annotations

import flask_principal
from flask_security import login_user, logout_user

from console.permissions import CUSTOMERS_WRITE, ORDERS_APPROVE, can, satisfies
from tests.factories import StaffFactory


def test_a_question_is_worked_out_once_per_request(app, monkeypatch):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    asked = []
    allows = flask_principal.Permission.allows

    def counted(self, identity):
        asked.append(self.needs)
        return allows(self, identity)

    monkeypatch.setattr(flask_principal.Permission, "allows", counted)
    with app.test_request_context("/admin/"):
        login_user(clerk)
        for _ in range(5):
            assert can(CUSTOMERS_WRITE)
            assert not can(ORDERS_APPROVE)
            assert satisfies((CUSTOMERS_WRITE,))
    assert len(asked) == 2  # one per permission asked about


def test_another_identity_in_the_same_request_is_answered_afresh(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    manager = StaffFactory(email="manager@staff.test", role="manager")
    with app.test_request_context("/admin/"):
        login_user(clerk)
        assert not can(ORDERS_APPROVE)
        login_user(manager)
        assert can(ORDERS_APPROVE)
        logout_user()
        assert not can(ORDERS_APPROVE) and not can(CUSTOMERS_WRITE)
