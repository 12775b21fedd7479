"""Errors of the JSON API as RFC 9457 problem details (``application/problem+json``).

Every 4xx and 5xx the API answers, its own or one raised by Werkzeug, webargs or
Flask-Smorest, comes out here: ``type``, ``title``, ``status``, ``detail`` and, for
input that was refused field by field, ``errors`` (field -> messages). A leaf module:
``console.web``'s error pages ask it whether a request is an API request.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, json, request

API_PREFIX = "/api/v1"
PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_TYPE = "about:blank"
"""RFC 9457's type for a problem that is fully described by its HTTP status."""

DETAILS: dict[int, str] = {
    400: "The request could not be read (malformed JSON or parameters). Nothing was changed.",
    401: "A valid API token is needed: send it as 'Authorization: Bearer <token>'.",
    403: "The token does not hold the permission this operation needs.",
    404: "There is nothing at this address.",
    405: "This address does not answer this method.",
    409: "The change conflicts with another record. Nothing was changed.",
    412: "The record changed since the version named in If-Match. Nothing was changed; "
    "read it again and repeat the change.",
    413: "The request body is too large. Nothing was changed.",
    415: "Send the body as JSON (Content-Type: application/json).",
    422: "The request was read, but some values are not acceptable. Nothing was changed.",
    428: "Send the record's ETag in If-Match, so that a change made by someone else in "
    "between is not overwritten.",
    429: "Too many requests for this token; wait and try again.",
    500: "The request could not be finished; nothing was saved.",
    503: "The database is not answering; nothing was saved. Try again in a moment.",
}


def is_api_request() -> bool:
    """True when the current request is addressed to the JSON API."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: Mapping[str, Any] | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response with ``status``; ``detail`` defaults to the status's text."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail or DETAILS.get(status, _phrase(status)),
    }
    if errors:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
