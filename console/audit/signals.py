"""Security events in the audit trail, fed by Flask-Security-Too's and Flask-Login's signals.

Sign-in (``user_authenticated``), sign-out (Flask-Login's ``user_logged_out``), a wrong
password or second factor for a known account (``user_failed_authn``, sent by
``UserMixin.track_failed_authn`` since 5.8), password change and reset, and 2FA changes
(``tf_profile_changed``, ``tf_disabled``, ``us_profile_changed``, ``wan_registered``,
``wan_deleted``).

Flask-Security sends no signal when the e-mail names no account, or when the account is
disabled or locked: an ``after_request`` hook on the login endpoint records those
refusals (a POST with an e-mail and a password that did not end signed in and raised no
``user_failed_authn``).

The events join the request's transaction; the sign-in, password and 2FA views commit
it themselves, and for the others (sign-out, refusals) the event is committed at the end
of the request. What the request says (who is signed in, what the form held) is read
through ``console.audit.context``.
"""

from __future__ import annotations

import logging
from typing import Any

import flask_login
from flask import Flask, Response
from flask_security import signals
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from console.audit.actions import (
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    TWO_FACTOR_CHANGED,
)
from console.audit.capture import record
from console.audit.context import (
    ANONYMOUS,
    SYSTEM,
    Actor,
    current_actor,
    request_notes,
    sign_in_attempt,
)
from console.database import commit_at_end_of_request, db
from console.models import User

log = logging.getLogger(__name__)

LOGIN_ENDPOINT = "security.login"


def _acting(user: Any) -> Actor:
    """The signed-in person when there is one, else ``user`` (who proved who they are)."""
    actor = current_actor()
    return actor if actor is not SYSTEM else Actor.of(user)


def _record(actor: Any, action: str, user: Any, note: str | None = None) -> None:
    record(db.session, actor, action, user, note=note)
    commit_at_end_of_request("a security event", required=False)


def on_login(_sender: Any, user: Any = None, authn_via: list[str] | None = None, **_: Any) -> None:
    # Flask-Security signs the person in again after a password change ("change"):
    # that is part of the password change event, not a sign-in.
    if user is None or "change" in (authn_via or []):
        return
    request_notes()["login_ok"] = True
    via = ", ".join(authn_via or []) or "unknown method"
    _record(user, LOGIN, user, note=f"Signed in with {via}.")


def on_logout(_sender: Any, user: Any = None, **_: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        return
    _record(user, LOGOUT, user, note="Signed out.")


def on_failed_authn(
    _sender: Any, user: Any = None, auth_type: str = "", tfa: bool = False, **_: Any
) -> None:
    request_notes()["login_failed"] = True
    step = "second factor" if tfa else auth_type or "credential"
    actor = current_actor()
    if actor is not SYSTEM:
        # A signed-in person asked to confirm their password again (``/verify``).
        _record(actor, LOGIN_FAILED, user, note=f"Re-authentication failed: wrong {step}.")
        return
    _record(ANONYMOUS, LOGIN_FAILED, user, note=f"Sign-in failed: wrong {step}.")


def on_password_changed(_sender: Any, user: Any = None, **_: Any) -> None:
    _record(_acting(user), PASSWORD_CHANGED, user, note="Password changed.")


def on_password_reset(_sender: Any, user: Any = None, **_: Any) -> None:
    _record(_acting(user), PASSWORD_RESET, user, note="Password reset.")


def on_two_factor_changed(_sender: Any, user: Any = None, **kwargs: Any) -> None:
    method = kwargs.get("method") or kwargs.get("methods") or kwargs.get("name")
    note = "Two-factor settings changed"
    if method:
        note += f" (method: {method})"
    _record(_acting(user), TWO_FACTOR_CHANGED, user, note=note + ".")


def on_two_factor_disabled(_sender: Any, user: Any = None, **_: Any) -> None:
    _record(_acting(user), TWO_FACTOR_CHANGED, user, note="Two-factor sign-in disabled.")


_RECEIVERS = [
    (signals.user_authenticated, on_login),
    (flask_login.user_logged_out, on_logout),
    (signals.user_failed_authn, on_failed_authn),
    (signals.password_changed, on_password_changed),
    (signals.password_reset, on_password_reset),
    (signals.tf_profile_changed, on_two_factor_changed),
    (signals.tf_disabled, on_two_factor_disabled),
    (signals.us_profile_changed, on_two_factor_changed),
    (signals.wan_registered, on_two_factor_changed),
    (signals.wan_deleted, on_two_factor_changed),
]


def _shown_identity(value: str) -> str:
    """The e-mail a refused sign-in named, unless it may be something else.

    People type their password into the e-mail field by mistake; a value that is not
    shaped like an e-mail address is not stored.
    """
    value = value.strip()
    if "@" in value and " " not in value and len(value) <= 254:
        return value
    return "(not an e-mail address)"


def record_refused_login(response: Response) -> Response:
    """Record sign-ins refused without ``user_failed_authn`` (unknown, disabled, locked)."""
    email = sign_in_attempt(LOGIN_ENDPOINT)
    if email is None:
        return response
    notes = request_notes()
    if notes.get("login_failed") or notes.get("login_ok") or response.status_code >= 500:
        return response
    if current_actor() is not SYSTEM:
        return response
    try:
        # Flask-Security matches e-mails case-insensitively; so does this look-up.
        user = db.session.scalar(
            select(User).where(func.lower(User.email) == email.strip().lower())
        )
        if user is None:
            note = f"Sign-in refused: no staff account {_shown_identity(email)}."
        else:
            note = "Sign-in refused: the account is disabled or locked, or the form had expired."
        record(db.session, ANONYMOUS, LOGIN_FAILED, user, note=note, record_type="staff_user")
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not store a refused sign-in in the audit trail")
    return response


def init_app(app: Flask) -> None:
    """Connect the security signals (once per process) and the refused-login hook."""
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver)  # blinker ignores a second connection of the same receiver
    app.after_request(record_refused_login)
