"""Sessions: each sign-in is a row on the server, checked on every request; idle timeout.

The session cookie is signed, so nobody can forge one, but a copy of it (or of an old
"remember me" cookie) would keep working after sign-out if the cookie alone decided.
So a full sign-in (password and, when set up, the second factor) starts a server-side
session (``console.services.sessions``) whose random key the signed cookie carries,
and every request must find that row: a request authenticated any other way (an old
remember-me cookie, a copied cookie after sign-out) is signed out at once.

Rows end at sign-out, on "sign out everywhere", when the password changes (the other
sessions) or is reset (all), and when an administrator deactivates the account, changes
its roles, forces a password reset or resets its two-factor sign-in.
"""

from __future__ import annotations

import time
from typing import Any

import flask_login
from flask import Flask, flash, request, session
from flask_login import current_user, user_logged_in
from flask_security import logout_user, signals

from console.database import commit_at_end_of_request, db
from console.models.base import utcnow
from console.services import sessions as sessions_service

IDLE_MESSAGE = "You were signed out after {minutes} without activity. Sign in again."


def idle_message(timeout_seconds: float) -> str:
    """The sign-out notice, the timeout in whole minutes ("1 minute", "30 minutes")."""
    minutes = max(1, round(timeout_seconds / 60))
    return IDLE_MESSAGE.format(minutes=f"{minutes} minute{'' if minutes == 1 else 's'}")


ENDED_MESSAGE = "Your session has ended. Sign in again."

SESSION_KEY = "console_sid"
"""Where the signed session cookie keeps the key of its server-side session."""

_UNCHECKED_ENDPOINTS = frozenset({"static", "admin.static", "security.static"})


def current_session_key() -> str | None:
    """The key of the signed-in person's server-side session in this request."""
    return session.get(SESSION_KEY)


def register_idle_timeout(app: Flask) -> None:
    """End a signed-in session after ``CONSOLE_IDLE_TIMEOUT`` without requests.

    Hand-written because the library way (a permanent session cookie with
    ``PERMANENT_SESSION_LIFETIME``) switches off Flask-Login's "strong" session
    protection, which only acts on non-permanent sessions. The time of the last
    request lives in the signed session, so it cannot be pushed forward by the client;
    the server-side session's "last seen" enforces it as well (``register_server_sessions``).
    """

    def _signed_in(_app, user=None, **_extra) -> None:
        session["console_seen"] = time.time()

    user_logged_in.connect(_signed_in, app, weak=False)

    @app.before_request
    def _idle_timeout() -> None:
        if request.endpoint in _UNCHECKED_ENDPOINTS:
            return
        if not current_user.is_authenticated:
            return
        now = time.time()
        timeout = app.config["CONSOLE_IDLE_TIMEOUT"].total_seconds()
        last_seen = session.get("console_seen")
        if last_seen is not None and now - float(last_seen) > timeout:
            logout_user()
            session.pop("console_seen", None)
            flash(idle_message(timeout), "info")
            return
        session["console_seen"] = now


def register_server_sessions(app: Flask) -> None:
    """Start a server-side session at each sign-in, require it on every request, end it."""

    def _signed_in(_app: Any, user: Any = None, **_extra: Any) -> None:
        # A new sign-in in the same browser (after a password change) replaces its session.
        sessions_service.end_session(db.session, session.pop(SESSION_KEY, None))
        session[SESSION_KEY] = sessions_service.start_session(
            db.session,
            user,
            address=request.remote_addr,
            browser=request.user_agent.string,
        )
        commit_at_end_of_request("a new session")

    def _signed_out(_app: Any, user: Any = None, **_extra: Any) -> None:
        sessions_service.end_session(db.session, session.pop(SESSION_KEY, None))
        commit_at_end_of_request("the end of a session", required=False)

    def _password_changed(_app: Any, user: Any = None, **_extra: Any) -> None:
        # The person stays signed in here (Flask-Security signed them in again).
        sessions_service.end_sessions(db.session, user, keep=current_session_key())
        commit_at_end_of_request("the end of other sessions")

    def _password_reset(_app: Any, user: Any = None, **_extra: Any) -> None:
        sessions_service.end_sessions(db.session, user)
        commit_at_end_of_request("the end of every session")

    user_logged_in.connect(_signed_in, app, weak=False)
    flask_login.user_logged_out.connect(_signed_out, app, weak=False)
    signals.password_changed.connect(_password_changed, app, weak=False)
    signals.password_reset.connect(_password_reset, app, weak=False)

    @app.before_request
    def _require_server_session() -> None:
        if request.endpoint in _UNCHECKED_ENDPOINTS or not current_user.is_authenticated:
            return
        row = sessions_service.find_session(db.session, current_session_key())
        now = utcnow()
        if (
            row is None
            or row.user_id != current_user.id
            or sessions_service.is_idle(row, app.config["CONSOLE_IDLE_TIMEOUT"], now)
        ):
            logout_user()
            flash(ENDED_MESSAGE, "info")
            return
        if sessions_service.touch(row, now):
            db.session.commit()
