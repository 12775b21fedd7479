"""Rate limits on the endpoints that take a secret (password, TOTP code) or send mail.

Limits are Flask-Limiter's, keyed per client address and per account named in the
form. Their storage (``RATELIMIT_STORAGE_URI``) is decided by the settings in
``config.py``: Redis when ``REDIS_URL`` is set, else in-process memory.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, request, session
from flask_limiter.util import get_remote_address
from flask_login import current_user

from console.extensions import limiter


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
