"""Absolute links (the ones that leave the app in e-mails) from the configured address.

A link in a mail must never take its host from the request: the Host header, or
``X-Forwarded-Host`` behind a trusted proxy, is whatever the client sent, and a password
reset asked for with ``Host: evil.example`` would otherwise carry a real token there.
Every absolute URL the console builds (``url_for(..., _external=True)``, Flask-Security's
reset links, anything built outside a request) therefore starts with
``CONSOLE_BASE_URL``; relative URLs for pages and redirects are unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, has_request_context, request
from werkzeug.routing import BuildError, MapAdapter

_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"
"""Characters Flask leaves unquoted in an ``_anchor``."""


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under ``CONSOLE_BASE_URL``, for links in mails.

    ``values`` fill the rule's variables; the others become the query string, as with
    ``url_for``. Works in a request, in a CLI command or in a job alike.
    """
    return current_app.url_for(endpoint, _external=True, **values)


class ConsoleFlask(Flask):
    """Flask, with every absolute URL built on ``CONSOLE_BASE_URL``."""

    def base_url_adapter(self) -> MapAdapter:
        """A URL adapter bound to ``CONSOLE_BASE_URL`` (scheme, host, port and path)."""
        base = urlsplit(self.config["CONSOLE_BASE_URL"])
        return self.url_map.bind(
            base.netloc, script_name=base.path or "/", url_scheme=base.scheme, subdomain=None
        )

    def create_url_adapter(self, request):  # type: ignore[no-untyped-def]
        """Outside a request (CLI, jobs), URLs are built on the configured address."""
        if request is None and self.config.get("CONSOLE_BASE_URL"):
            return self.base_url_adapter()
        return super().create_url_adapter(request)

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Flask's ``url_for``; an absolute URL takes its host from ``CONSOLE_BASE_URL``.

        Flask builds an absolute URL in a request from that request's host; this builds
        it from the configured address instead (what Flask does outside a request).
        """
        in_request = has_request_context()
        external = _external if _external is not None else (_scheme is not None or not in_request)
        if not external or not in_request or not self.config.get("CONSOLE_BASE_URL"):
            return super().url_for(
                endpoint,
                _anchor=_anchor,
                _method=_method,
                _scheme=_scheme,
                _external=_external,
                **values,
            )
        if endpoint[:1] == ".":
            blueprint = request.blueprint
            endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
        self.inject_url_defaults(endpoint, values)
        try:
            url = self.base_url_adapter().build(
                endpoint, values, method=_method, url_scheme=_scheme, force_external=True
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=True)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            url += "#" + quote(_anchor, safe=_ANCHOR_SAFE)
        return url
