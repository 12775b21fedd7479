"""The request id: one id per HTTP request, shared by the logs and the audit trail.

Every log record of a request (``console.logs``), its audit events (``console.audit``)
and the response's ``X-Request-ID`` header carry the same id, so that an operator can
go from a response to its log lines and to the changes it made. An incoming
``X-Request-ID`` (set by a load balancer) is kept when it looks like an id; anything
else is replaced by a fresh one, so arbitrary text never reaches the logs.
"""

from __future__ import annotations

import re
import uuid

from flask import has_request_context, request

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
        current = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        environ[_ENVIRON_KEY] = current
    return current
