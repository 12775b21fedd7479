"""Sessions: the idle timeout of a signed-in session."""

from __future__ import annotations

import time

from flask import Flask, flash, request, session
from flask_login import current_user, user_logged_in
from flask_security import logout_user

IDLE_MESSAGE = "You were signed out after {minutes} without activity. Sign in again."


def idle_message(timeout_seconds: float) -> str:
    """The sign-out notice, the timeout in whole minutes ("1 minute", "30 minutes")."""
    minutes = max(1, round(timeout_seconds / 60))
    return IDLE_MESSAGE.format(minutes=f"{minutes} minute{'' if minutes == 1 else 's'}")


def register_idle_timeout(app: Flask) -> None:
    """End a signed-in session after ``CONSOLE_IDLE_TIMEOUT`` without requests.

    Hand-written because the library way (a permanent session cookie with
    ``PERMANENT_SESSION_LIFETIME``) switches off Flask-Login's "strong" session
    protection, which only acts on non-permanent sessions. The time of the last
    request lives in the signed session, so it cannot be pushed forward by the client.
    """

    def _signed_in(_app, user=None, **_extra) -> None:
        session["console_seen"] = time.time()

    user_logged_in.connect(_signed_in, app, weak=False)

    @app.before_request
    def _idle_timeout() -> None:
        if request.endpoint in ("static", "admin.static", "security.static"):
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
