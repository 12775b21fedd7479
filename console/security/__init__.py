"""Sign-in hardening around Flask-Security-Too, one module per concern.

Flask-Security-Too does the sign-in work itself (login, logout, password change and
reset, two-factor, re-authentication). This package adds what it leaves to the app:

- ``mail``: ``ConsoleMailUtil``, the one place security e-mails (reset links, notices)
  leave the app, through the outbox like customer e-mails;
- ``lockout``: the per-account lockout of the steps that take a secret, kept in the
  database so that it holds across workers and hosts; ``forms`` tells it what failed;
- ``limits``: puts the lockout on those endpoints, and Flask-Limiter limits per client
  address (and per account on reset requests, which send mail);
- ``headers``: Content-Security-Policy with a per-request nonce that Flask-Admin puts
  on its script tags, frame-ancestors, nosniff, referrer policy, HSTS;
- ``sessions``: server-side sessions (one row per sign-in, checked on every request,
  ended by sign-out) and the idle timeout;
- ``links``: absolute links (in mails) built from ``CONSOLE_BASE_URL``;
- here: building the app's ``Security`` and the admin look of its pages.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_security import Security, SQLAlchemyUserDatastore

from console.database import db
from console.models import Role, User
from console.security.forms import ConsoleChangePasswordForm, ConsoleLoginForm
from console.security.headers import register_security_headers
from console.security.limits import register_rate_limits
from console.security.mail import ConsoleMailUtil
from console.security.sessions import register_idle_timeout, register_server_sessions
from console.security.totp import ConsoleTotp


def init_security(app: Flask) -> Security:
    """Build this app's Flask-Security-Too (a fresh one per app) on the staff tables.

    Built per app rather than unbound in ``console.extensions``: the extension keeps
    per-app objects (datastore, mail and password utilities), and the mail utility
    class is taken only by its constructor.
    """
    return Security(
        app,
        SQLAlchemyUserDatastore(db, User, Role),
        mail_util_cls=ConsoleMailUtil,
        login_form=ConsoleLoginForm,
        change_password_form=ConsoleChangePasswordForm,
        totp_cls=ConsoleTotp,
    )


def accounts() -> Security:
    """The current app's Flask-Security-Too (its ``datastore``, password and mail utils)."""
    return current_app.extensions["security"]


def register_hardening(app: Flask) -> None:
    """Sign-in rate limits, idle timeout, security headers and the admin look."""
    register_rate_limits(app)
    register_idle_timeout(app)
    register_server_sessions(app)
    register_security_headers(app)
    register_security_context(app)


def register_security_context(app: Flask) -> None:
    """Give Flask-Security's templates the admin theme and console name."""
    security = app.extensions["security"]

    @security.context_processor
    def _admin_look() -> dict[str, Any]:
        admin = app.extensions["console_admin"]
        return {"theme": admin.theme, "console_name": app.config["CONSOLE_NAME"]}
