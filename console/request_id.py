"""The request id: one id per HTTP request, shared by the logs and the audit trail.

Every log record of a request (``console.logs``), its audit events (``console.audit``)
and the response's ``X-Request-ID`` header carry the same id, so that an operator can
go from a response to its log lines and to the changes it made. An incoming
``X-Request-ID`` is kept only behind trusted proxies (``PROXY_COUNT`` > 0: the load
balancer sets it) and only when it looks like an id; otherwise the console makes a
fresh one, so that a client can neither choose the id its changes are recorded under
nor send arbitrary text to the logs.
"""

from __future__ import annotations

import re
import uuid

from flask import current_app, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
"""What an incoming id must look like to be kept (fits ``audit_event.request_id``)."""

_ENVIRON_KEY = "console.request_id"


def request_id() -> str | None:
    """The id of the current request (made on first use), or None outside a request.

    Kept in the WSGI environ rather than in ``g``: ``g`` belongs to the app context,
    which a test or a streamed response may keep across several requests, while the
    environ belongs to exactly one request.
    """
    if not has_request_context():
        return None
    environ = request.environ
    current = environ.get(_ENVIRON_KEY)
    if current is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        trusted = current_app.config.get("PROXY_COUNT", 0) > 0
        current = incoming if trusted and VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        environ[_ENVIRON_KEY] = current
    return current
