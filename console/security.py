"""Sign-in hardening around Flask-Security-Too: mail seam, rate limits, headers.

Flask-Security-Too does the sign-in work itself (login, logout, password change and
reset, two-factor, re-authentication). This module adds what it leaves to the app:

- (in ``console.security_mail``) ``ConsoleMailUtil``: the one place security e-mails
  (reset links, notices) leave the app, through the outbox like customer e-mails;
- Flask-Limiter limits on the endpoints that take a secret (password, TOTP code) or
  send mail, keyed per client address and per account named in the form;
- security headers (Content-Security-Policy with a per-request nonce that Flask-Admin
  puts on its script tags, frame-ancestors, nosniff, referrer policy);
- the admin look (theme) for Flask-Security's own pages.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from flask import (
    Flask,
    current_app,
    flash,
    g,
    request,
    session,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, user_logged_in
from flask_security import logout_user

from console.extensions import limiter

# --- rate limits on sign-in ----------------------------------------------------------


def _account_key() -> str:
    """The account a sign-in form names (case-insensitive), so that spreading guesses
    for one account over many addresses still hits a limit."""
    email = (request.form.get("email") or request.form.get("username") or "").strip()
    return "account:" + email.casefold()


def _second_factor_key() -> str:
    """The half-signed-in account of a two-factor code or a re-authentication."""
    if current_user.is_authenticated:
        return "account:" + current_user.fs_uniquifier
    return "pending-2fa:" + str(session.get("tf_user_id", ""))


def _failed(response) -> bool:
    """A sign-in step failed when it re-renders its form instead of redirecting.

    A refused (429) attempt does not count again, so that the wait announced in
    Retry-After holds.
    """
    return response.status_code not in (302, 429)


def _not_refused(response) -> bool:
    """Every request counts except one already refused by the limit."""
    return response.status_code != 429


def _per_account() -> str:
    return current_app.config["CONSOLE_LOGIN_LIMIT_PER_ACCOUNT"]


def _per_address() -> str:
    return current_app.config["CONSOLE_LOGIN_LIMIT_PER_ADDRESS"]


LIMIT_MESSAGE = "Too many sign-in attempts."

# Built once: Flask-Limiter registers a decorated limit by the view's qualified name,
# so re-using the same objects for every app keeps one set of limits per endpoint.
_LOGIN_LIMITS = [
    limiter.limit(
        _per_account,
        key_func=_account_key,
        methods=["POST"],
        deduct_when=_failed,
        scope="login-account",
        error_message=LIMIT_MESSAGE,
    ),
    limiter.limit(
        _per_address,
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_failed,
        scope="login-address",
        error_message=LIMIT_MESSAGE,
    ),
]
_SECOND_FACTOR_LIMITS = [
    limiter.limit(
        _per_account,
        key_func=_second_factor_key,
        methods=["POST"],
        deduct_when=_failed,
        scope="second-factor-account",
        error_message=LIMIT_MESSAGE,
    ),
    _LOGIN_LIMITS[1],
]
# Reset requests send mail: every request counts, per address and per account.
_RESET_LIMITS = [
    limiter.limit(
        _per_account,
        key_func=_account_key,
        methods=["POST"],
        deduct_when=_not_refused,
        scope="reset-account",
        error_message="Too many password reset requests.",
    ),
    limiter.limit(
        _per_address,
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_not_refused,
        scope="reset-address",
        error_message="Too many password reset requests.",
    ),
]

LIMITED_ENDPOINTS = {
    "security.login": _LOGIN_LIMITS,
    "security.two_factor_token_validation": _SECOND_FACTOR_LIMITS,
    "security.verify": _SECOND_FACTOR_LIMITS,
    "security.forgot_password": _RESET_LIMITS,
}


def register_rate_limits(app: Flask) -> None:
    """Bind the limiter and put the sign-in limits on Flask-Security's views."""
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        # Several hosts must share the counters, or each would allow its own quota.
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    limiter.init_app(app)
    for endpoint, limits in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view


def seconds_until_retry() -> int | None:
    """Seconds until the limit the current request broke lets it through again."""
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()) + 1)


# --- security headers -----------------------------------------------------------------


def csp_nonce() -> str:
    """This request's Content-Security-Policy nonce (the same for every script tag)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str, handler_hashes: tuple[str, ...]) -> str:
    """The policy: only this site's own files and the nonced inline scripts run.

    Styles allow inline ``style`` attributes, which Flask-Admin's templates and
    widgets (Select2, date pickers) set; scripts do not allow inline code except the
    nonced blocks and, by hash (``'unsafe-hashes'``), the exact inline event handlers
    Flask-Admin's templates render (delete confirmation, list actions, "add line").
    """
    hashes = " ".join(f"'{value}'" for value in handler_hashes)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}' 'unsafe-hashes' {hashes}".strip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _hash_handler(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def admin_inline_handlers(admin) -> set[str]:
    """The inline ``onclick`` handlers Flask-Admin 2.2's bootstrap4 templates render
    for this app's views (model/layout.html, row_actions.html, actions.html,
    inline_list_base.html), listed from the views' own actions and inline forms so
    that nothing else inline may run."""
    from flask_admin.model.fields import InlineFieldList
    from wtforms.fields.core import UnboundField

    handlers = {
        # Links that only trigger a script handler use href="javascript:void(0)".
        "javascript:void(0)",
        "return false;",
        "return faHelpers.safeConfirm('Are you sure you want to delete this record?');",
    }
    for view in admin._views:
        for name, _text in getattr(view, "_actions", None) or []:
            handlers.add(f"return modelActions.execute('{name}');")
        for form_class in (
            getattr(view, "_create_form_class", None),
            getattr(view, "_edit_form_class", None),
        ):
            for name in dir(form_class) if form_class else []:
                unbound = getattr(form_class, name, None)
                if isinstance(unbound, UnboundField) and issubclass(
                    unbound.field_class, InlineFieldList
                ):
                    handlers.add(f"faForm.addInlineField(this, '{name}');")
    return handlers


def inline_handler_hashes(app: Flask) -> tuple[str, ...]:
    """Hashes of ``admin_inline_handlers``, computed once per app."""
    cached = app.extensions.get("console_csp_hashes")
    if cached is None:
        handlers = admin_inline_handlers(app.extensions["console_admin"])
        cached = tuple(sorted(_hash_handler(source) for source in handlers))
        app.extensions["console_csp_hashes"] = cached
    return cached


def register_security_headers(app: Flask) -> None:
    """Add the hardening headers to every response."""

    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(csp_nonce(), inline_handler_hashes(app)),
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response


# --- Flask-Security's pages in the admin look ----------------------------------------


def register_security_context(app: Flask) -> None:
    """Give Flask-Security's templates the admin theme and console name."""
    security = app.extensions["security"]

    @security.context_processor
    def _admin_look() -> dict[str, Any]:
        admin = app.extensions["console_admin"]
        return {"theme": admin.theme, "console_name": app.config["CONSOLE_NAME"]}


IDLE_MESSAGE = "You were signed out after {minutes} minutes without activity. Sign in again."


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
            flash(IDLE_MESSAGE.format(minutes=max(1, round(timeout / 60))), "info")
            return
        session["console_seen"] = now
