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

A session that ends this way (idle, or ended on the server) rather than by signing out
leaves a note in the signed cookie (``ended_session_user``): a form of that browser
posted afterwards is kept for the same person until they sign in again
(``console.admin.drafts``), and its CSRF token stays valid so that the post is not
refused before it can be kept. The next sign-in renews the token.

A request to the keep-alive endpoint (``KEEPALIVE_ENDPOINT``) is not activity by
itself: asked by GET it reports the time left without extending it, so a page that
polls it cannot keep a session alive; a POST with a valid CSRF token (the person
typing) extends the session through ``note_activity``.
"""

from __future__ import annotations

import time
from typing import Any

import flask_login
from flask import Flask, current_app, flash, g, request, session
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

_UNCHECKED_ENDPOINTS = frozenset({"static", "admin.static", "security.static", "web.favicon"})
"""Requests that neither need a live session nor count as activity: files, and the icon
browsers ask for by themselves, at any moment after a page has loaded."""

KEEPALIVE_ENDPOINT = "keepalive.index"
"""The endpoint the pages' script asks how long the session has left, or extends it."""

ENDED_KEY = "console_ended"
"""Where the signed cookie notes whose session ended without a sign-out, and when."""

ENDED_NOTE_LIFETIME = 24 * 60 * 60
"""Seconds the note is honoured (as long as a kept form waits for its person)."""

CSRF_FIELD = "csrf_token"
"""Flask-WTF's key of the CSRF token, in the session and in ``g``."""


def current_session_key() -> str | None:
    """The key of the signed-in person's server-side session in this request."""
    return session.get(SESSION_KEY)


def counts_as_activity() -> bool:
    """False for the keep-alive endpoint, which decides itself (``note_activity``)."""
    return request.endpoint != KEEPALIVE_ENDPOINT


def note_activity() -> None:
    """Extend the signed-in session now: the cookie's last activity and the server row's."""
    session["console_seen"] = time.time()
    row = sessions_service.find_session(db.session, current_session_key())
    if row is not None and sessions_service.touch(row, utcnow()):
        db.session.commit()


def seconds_left() -> float:
    """Seconds until the idle timeout ends the current session, without activity."""
    timeout = current_app.config["CONSOLE_IDLE_TIMEOUT"].total_seconds()
    last_seen = session.get("console_seen")
    if last_seen is None:
        return timeout
    return max(0.0, timeout - (time.time() - float(last_seen)))


def end_session_unasked(message: str) -> None:
    """Sign the current person out because their session ended (not by their asking).

    Notes in the cookie whose session it was, so that a form of this browser posted
    afterwards can be kept for them, and keeps the CSRF token Flask-Security clears at
    sign-out, so that such a post is not refused first (the next sign-in renews it).
    """
    user_id = current_user.id
    token = session.get(CSRF_FIELD)
    logout_user()
    if token is not None:
        session[CSRF_FIELD] = token
    session[ENDED_KEY] = {"user": user_id, "at": time.time()}
    flash(message, "info")


def ended_session_user() -> int | None:
    """The id of the person whose session in this browser ended unasked, if recent."""
    note = session.get(ENDED_KEY)
    if not isinstance(note, dict):
        return None
    user_id, at = note.get("user"), note.get("at")
    if not isinstance(user_id, int) or not isinstance(at, int | float):
        return None
    if time.time() - at > ENDED_NOTE_LIFETIME:
        return None
    return user_id


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
        if session.pop(ENDED_KEY, None) is not None:
            # The token kept past the session's end (``end_session_unasked``) is renewed.
            session.pop(CSRF_FIELD, None)
            g.pop(CSRF_FIELD, None)

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
            session.pop("console_seen", None)
            end_session_unasked(idle_message(timeout))
            return
        if counts_as_activity():
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
            end_session_unasked(ENDED_MESSAGE)
            return
        if counts_as_activity() and sessions_service.touch(row, now):
            db.session.commit()
