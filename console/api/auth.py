"""Bearer tokens on the API, and the permission each operation declares.

The API reads no cookie at all (``strip_cookies``): a signed-in browser session is
never taken as authentication, so no page of another site can make a browser act on
the API, and the API has no CSRF surface. A request names its token in
``Authorization: Bearer <token>``; each operation declares the permissions it needs
with ``requires``, checked against the token (and its owner still holding them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, g, request

from console.database import db
from console.models import ApiToken, User
from console.permissions import Requirement
from console.services import api_tokens

REQUIREMENT_ATTRIBUTE = "_api_requirement"


def strip_cookies(app: Flask, prefix: str) -> None:
    """Drop the Cookie header of every request under ``prefix`` before Flask reads it.

    Done in WSGI, ahead of Flask: neither the session, nor Flask-Login's remember
    cookie, nor anything else that reads cookies ever sees one on the API.
    """
    inner = app.wsgi_app

    def without_cookies(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ.pop("HTTP_COOKIE", None)
        return inner(environ, start_response)

    app.wsgi_app = without_cookies  # type: ignore[method-assign]


def bearer_secret() -> str | None:
    """The token sent in ``Authorization: Bearer <token>``, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def authenticate() -> None:
    """Find this request's token (``g.api_token``); 401 when there is no usable one."""
    secret = bearer_secret()
    token = api_tokens.authenticate(db.session, secret) if secret else None
    if token is None:
        abort(401)
    g.api_token = token


def current_token() -> ApiToken:
    return g.api_token


def current_owner() -> User:
    """The staff member the token acts as."""
    return db.session.get(User, g.api_token.owner_id)


def requires(*permissions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare (and enforce) what an operation needs: every one of ``permissions``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            token = g.get("api_token")
            if token is None:
                abort(401)
            if not all(api_tokens.grants(token, permission) for permission in permissions):
                abort(403)
            return view(*args, **kwargs)

        setattr(guarded, REQUIREMENT_ATTRIBUTE, tuple(permissions))
        return guarded

    return decorate


def requirement_of(view: Callable[..., Any]) -> Requirement | None:
    """What a view declared with ``requires``, or None when it declared nothing."""
    return getattr(view, REQUIREMENT_ATTRIBUTE, None)
