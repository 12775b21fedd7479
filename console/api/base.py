"""What every resource blueprint of the API shares: token, body checks, errors, limits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from console import audit
from console.api import auth
from console.api.problems import problem
from console.database import db
from console.extensions import csrf, limiter
from console.services.errors import DomainError
from console.services.ids import row_id

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _token_key() -> str:
    """The rate limit's key: the token (by its hash, known before any query), else the
    client's address for requests without one."""
    secret = auth.bearer_secret()
    if secret:
        return "token:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return "address:" + (get_remote_address() or "")


def _api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def check_body() -> None:
    """413 for a body over ``API_MAX_BODY_BYTES`` (refused unread), 415 for one not JSON."""
    limit = current_app.config["API_MAX_BODY_BYTES"]
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    has_body = request.method in BODY_METHODS and (request.content_length or request.mimetype)
    is_json = request.mimetype == "application/json" or request.mimetype.endswith("+json")
    if has_body and not is_json:
        abort(415)
    # Read here (400 when it is not JSON), before webargs, whose own reading of JSON
    # nested thousands deep would fail with a RecursionError (a 500).
    if has_body and _has_nul(request.get_json()):
        abort(422, NUL_REFUSED)
    if any("\x00" in value for value in request.headers.values()):
        abort(400, NUL_REFUSED)


NUL_REFUSED = (
    "The request contains a NUL character (\\u0000), which no field can hold. "
    "Nothing was changed; remove it and try again."
)


class DepthSafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a body nested too deeply to read refused as invalid JSON.

    Python's parser raises ``RecursionError`` past about a thousand levels, which no
    caller expects: Flask-Security's request loader reads every JSON body (looking for
    an auth token) while the identity loads, so any such body answered 500, on the API
    and on the console's own JSON endpoints alike.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _has_nul(value: Any) -> bool:
    """True when a NUL character is anywhere in parsed JSON (PostgreSQL stores none;
    ``console.web`` refuses it in query strings and forms)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def handle_http_error(error: HTTPException) -> Any:
    """Every HTTP error of the API as problem+json, webargs' field errors included."""
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    errors = None
    detail = None
    if isinstance(messages, dict):
        # webargs nests the errors by location ("json", "query", "headers").
        errors = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                errors.update(fields)
            else:
                errors[location] = fields
    description = getattr(error, "description", None)
    if description and description != type(error).description:
        detail = description
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if status == 429:
        from console.security.limits import seconds_until_retry

        wait = seconds_until_retry()
        if wait:
            headers["Retry-After"] = str(wait)
    return problem(status, detail, errors=errors, headers=headers)


def handle_domain_error(error: DomainError) -> Any:
    """A rule of the console refused the change: 422 with the reason (by field if known)."""
    db.session.rollback()
    errors = getattr(error, "errors", None) or {}
    return problem(422, error.message, errors={k: list(v) for k, v in errors.items()})


def handle_stale(_error: StaleDataError) -> Any:
    db.session.rollback()
    return problem(412)


def handle_integrity(_error: IntegrityError) -> Any:
    db.session.rollback()
    return problem(409)


def handle_database_down(_error: OperationalError) -> Any:
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.remove()
    return problem(503)


class ResourceBlueprint(Blueprint):
    """Flask-Smorest's blueprint, giving each operation an ``operationId`` in the document.

    The id is the resource and the endpoint (``orders.create``, ``orders.approve``,
    ``jobs.get``): stable names by which a client generated from the document, or one
    reading it as it runs (a storefront), finds an operation without knowing its path.
    Flask-Smorest names none by itself.
    """

    def route(self, rule: str, *, parameters: Any = None, tags: Any = None, **options: Any):
        register = super().route(rule, parameters=parameters, tags=tags, **options)

        def decorator(func: Any) -> Any:
            endpoint = options.get("endpoint") or func.__name__
            operation_id = f"{self.name.removeprefix('api_')}.{endpoint}"
            return register(self.doc(operationId=operation_id)(func))

        return decorator


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A resource blueprint: token required, JSON bodies only, errors as problems,
    limited per token, exempt from CSRF (it reads no cookie, see ``auth``)."""
    blp = ResourceBlueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(auth.authenticate)
    blp.before_request(check_body)
    blp.register_error_handler(HTTPException, handle_http_error)
    blp.register_error_handler(DomainError, handle_domain_error)
    blp.register_error_handler(StaleDataError, handle_stale)
    blp.register_error_handler(IntegrityError, handle_integrity)
    blp.register_error_handler(OperationalError, handle_database_down)
    csrf.exempt(blp)
    limiter.limit(
        _api_rate_limit,
        key_func=_token_key,
        scope="api-token",
        error_message="Too many requests for this token.",
    )(blp)
    return blp


RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    428: "PRECONDITION_REQUIRED",
}


def documented(blp: Blueprint, *statuses: int):
    """Document the problem responses ``statuses`` of an operation, and 401 and 403."""

    def decorate(view):
        for status in (*statuses, 401, 403):
            view = blp.alt_response(status, response=RESPONSE_NAMES[status])(view)
        return view

    return decorate


def etag_data(record: Any) -> dict[str, int]:
    """What a record's ETag is computed from: its id and version."""
    return {"id": record.id, "version": record.version}


def record_or_404(model: type, record_id: Any, message: str, **options: Any) -> Any:
    """The ``model`` row ``record_id`` names, or 404 with ``message``."""
    number = row_id(record_id)
    record = db.session.get(model, number, **options) if number is not None else None
    if record is None:
        abort(404, message)
    return record


def save(record: Any, values: dict[str, Any], then: Callable[[Any], None] | None = None) -> Any:
    """Set ``values`` on ``record`` (added when new) and commit, as the token's owner;
    ``then(record)`` writes what goes with the change, in its transaction."""
    with audit.acting(db.session, auth.current_owner()):
        for name, value in values.items():
            setattr(record, name, value)
        db.session.add(record)
        if then is not None:
            then(record)
        db.session.commit()
    return record
