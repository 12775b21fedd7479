"""Security headers: a Content-Security-Policy with a per-request nonce, and the rest.

The nonce is the one Flask-Admin puts on its script tags; the exact inline event
handlers Flask-Admin's templates render are allowed by hash, nothing else inline runs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from flask import Flask, g, request
from flask_admin.model.fields import InlineFieldList
from wtforms.fields.core import UnboundField

from console.admin.registry import registered_views


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


def admin_inline_handlers(views) -> set[str]:
    """The inline ``onclick`` handlers Flask-Admin 2.2's bootstrap4 templates render
    for this app's views (model/layout.html, row_actions.html, actions.html,
    inline_list_base.html), listed from the views' own actions and inline forms so
    that nothing else inline may run."""
    handlers = {
        # Links that only trigger a script handler use href="javascript:void(0)".
        "javascript:void(0)",
        "return false;",
        "return faHelpers.safeConfirm('Are you sure you want to delete this record?');",
    }
    for view in views:
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
        handlers = admin_inline_handlers(registered_views(app))
        cached = tuple(sorted(_hash_handler(source) for source in handlers))
        app.extensions["console_csp_hashes"] = cached
    return cached


def _private(endpoint: str | None) -> bool:
    """Whether the page at ``endpoint`` shows data or account pages (everything but
    static files and the public status check)."""
    if endpoint is None:
        return False
    return endpoint not in ("static", "admin.static", "security.static", "web.status")


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
        if _private(request.endpoint):
            # Records and exports must not stay in a browser's or a proxy's cache.
            response.headers["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
