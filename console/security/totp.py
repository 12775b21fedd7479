"""Authenticator (TOTP) codes that work once: Flask-Security's ``Totp`` replay hooks."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_security.totp import Totp
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from console.database import db
from console.models import User


class ConsoleTotp(Totp):
    """Refuse a code whose time step was already used by the same person.

    Flask-Security's ``Totp`` accepts a code as often as it is shown unless the app keeps
    the last counter used (``get_last_counter`` / ``set_last_counter``): one code could
    sign in two sessions within its time step. The counter lives on the account
    (``staff_user.tf_totp_last_counter``) so every worker and host sees it, and it is
    claimed with one conditional UPDATE, so two requests racing with the same code cannot
    both win.
    """

    def get_last_counter(self, user: Any) -> int | None:
        return user.tf_totp_last_counter

    def set_last_counter(self, user: Any, tmatch: Any) -> None:
        # Claimed in ``verify_totp``; kept per request (this object serves every thread).
        g.console_totp_counter = tmatch.counter

    def verify_totp(self, token: str, totp_secret: str, user: Any, window: int = 0) -> bool:
        g.pop("console_totp_counter", None)
        if not super().verify_totp(token, totp_secret, user, window):
            return False
        counter = g.pop("console_totp_counter")
        with Session(db.engine) as claim, claim.begin():
            claimed = claim.execute(
                update(User)
                .where(
                    User.id == user.id,
                    or_(User.tf_totp_last_counter.is_(None), User.tf_totp_last_counter < counter),
                )
                .values(tf_totp_last_counter=counter)
            ).rowcount
        if claimed != 1:
            return False
        if user in db.session:  # the request's copy reloads the claimed counter
            db.session.expire(user, ["tf_totp_last_counter"])
        return True
