"""Rate limits on the endpoints that take a secret (password, TOTP code) or send mail.

Two layers. Per account, the lockout of ``console.security.lockout``, kept in the
database so that it holds across worker processes and hosts. Per client address (and
per account for reset requests, which send mail), Flask-Limiter's limits; their storage
(``RATELIMIT_STORAGE_URI``) is decided by the settings in ``config.py``: Redis when
``REDIS_URL`` is set, else in-process memory.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, after_this_request, current_app, g, request
from flask_limiter.util import get_remote_address

from console.database import db
from console.extensions import limiter
from console.security import lockout


def _account_key() -> str:
    """The account a reset form names, resolved as Flask-Security resolves it."""
    return lockout.key_for_address(request.form.get("email") or "")


def _failed(response) -> bool:
    """Only a real authentication failure uses up the allowance (``console.security.lockout``).

    A refused CSRF token, a form error, an outage (503) and a refusal by the limit
    itself (429, so that the wait announced in Retry-After holds) count nothing.
    """
    return lockout.failed_authentication()


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
_PER_ADDRESS = limiter.limit(
    _per_address,
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
    error_message=LIMIT_MESSAGE,
)
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

# Choosing a password from an invitation link: every request counts per client
# address, as reset requests do (each one checks a password's strength and hashes it).
INVITATION_LIMIT = limiter.limit(
    _per_address,
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=_not_refused,
    scope="invitation-address",
    error_message="Too many attempts to set a password from an invitation.",
)
"""Applied to ``console.security.invitations.accept`` where it is defined."""

# The customer's order page: every request counts per client address, so that nobody
# can try tokens or load the page in bulk.
ORDER_PAGE_LIMIT = limiter.limit(
    lambda: current_app.config["ORDER_PAGE_RATE_LIMIT"],
    key_func=get_remote_address,
    scope="customer-order-page",
    error_message="Too many requests for order pages.",
)
"""Applied to the views of ``console.customer_page`` where they are defined."""

LOCKED_ENDPOINTS: dict[str, Callable[[], str | None]] = {
    "security.login": lockout.sign_in_account,
    "security.two_factor_token_validation": lockout.second_factor_account,
    "security.verify": lockout.second_factor_account,
    "security.change_password": lockout.signed_in_account,
}
"""Endpoints that take a secret, and how each finds the account it is tried on."""

LIMITED_ENDPOINTS = {
    **{endpoint: [_PER_ADDRESS] for endpoint in LOCKED_ENDPOINTS},
    "security.forgot_password": _RESET_LIMITS,
}


def _locked_out(view: Callable[..., Any], account_of: Callable[[], str | None]):
    """``view`` run as an attempt on the account ``account_of`` names (see ``lockout``)."""

    @functools.wraps(view)
    def attempt(*args: Any, **kwargs: Any) -> Any:
        account = account_of() if request.method == "POST" else None
        if account is None:
            return view(*args, **kwargs)
        started = lockout.begin(account)
        if isinstance(started, lockout.Refused):
            g.console_retry_after = started.retry_after
            abort(429, description=LIMIT_MESSAGE)
        try:
            response = view(*args, **kwargs)
        except BaseException:
            # The failed view commits nothing: its transaction ends before the attempt's
            # own session writes (SQLite would make that session wait for its lock).
            db.session.rollback()
            lockout.finish(started, failed=lockout.failed_authentication())
            raise
        failed = lockout.failed_authentication()

        # Finished once the view's changes are committed (Flask-Security and
        # ``commit_at_end_of_request`` commit in callbacks the view registered, which run
        # first): on SQLite the attempt's own session could not write while the
        # request's transaction still held the database, and waited out the busy timeout.
        @after_this_request
        def _finish(answer: Response) -> Response:
            lockout.finish(started, failed=failed)
            return answer

        return response

    return attempt


def register_rate_limits(app: Flask) -> None:
    """Bind the limiter and put the sign-in limits on Flask-Security's views."""
    limiter.init_app(app)
    # The limiter is one object bound to each app in turn; a storage outage it met
    # under an earlier app (the test suite builds many) says nothing about this one's.
    limiter._storage_dead = False
    lockout.init_app()
    for endpoint, limits in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        if endpoint in LOCKED_ENDPOINTS:
            view = _locked_out(view, LOCKED_ENDPOINTS[endpoint])
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view


def seconds_until_retry() -> int | None:
    """Seconds until the limit the current request broke lets it through again."""
    if g.get("console_retry_after"):
        return g.console_retry_after
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()) + 1)
