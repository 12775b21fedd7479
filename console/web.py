"""The console's own pages outside Flask-Admin: home redirect, health check, errors.

Also the app-wide refusal of NUL characters in request parameters.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest, SecurityError

from console.api import problems
from console.database import db
from console.extensions import csrf
from console.i18n import page_language
from console.models import OutboxMessage, OutboxStatus
from console.models.base import utcnow
from console.security.limits import seconds_until_retry

bp = Blueprint("web", __name__)

NUL_REFUSED = (
    "The request contains a NUL character (\\x00), which no field can hold. "
    "Nothing was changed; remove it and try again."
)


@bp.before_app_request
def refuse_nul_characters() -> None:
    """Refuse (400) a request with a NUL character in any query or form parameter.

    PostgreSQL cannot store NUL in text and refuses any statement carrying one
    (``DataError``); a search, a filter, a form field or a sign-in e-mail with one
    would otherwise answer 500. Checked once here, for every page of the app.

    The refused request's parameters are then emptied, so that no later hook (the
    audit trail's record of refused sign-ins runs after every response) carries the
    refused value into SQL.
    """
    for values in (request.args, request.form):
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                refused = request._get_current_object()
                refused.args = refused.form = ImmutableMultiDict()
                vars(refused).pop("values", None)
                abort(400, NUL_REFUSED)


@bp.after_app_request
def declare_page_language(response):
    """Declare the page's language (the request's, ``console.i18n``) on Flask-Admin's
    pages.

    Flask-Admin's base template opens them with a bare ``<html>``; screen readers then
    guess the language for reading aloud. The console's own templates declare it.
    """
    if response.mimetype == "text/html" and not response.is_streamed:
        body = response.get_data()
        head = body[:200]
        if b"<html>" in head:
            response.set_data(
                head.replace(b"<html>", f'<html lang="{page_language()}">'.encode(), 1) + body[200:]
            )
    return response


@bp.get("/")
def home():
    """Staff land on the admin home page."""
    return redirect(url_for("admin.index"))


@bp.get("/favicon.ico")
def favicon():
    """No icon: answer browsers' automatic request without a 404 in their console."""
    return "", 204


@bp.get("/status")
@csrf.exempt
def status():
    """Health check for load balancers: 200 when the database answers, 503 when not.

    It also reports the e-mail backlog and, when configured, Redis. Neither a Redis
    outage nor stalled delivery makes the host unhealthy: messages wait safely in the
    outbox meanwhile, and taking web hosts out of service would not deliver them; the
    ``outbox.stalled`` flag is for monitoring to alert on.
    """
    try:
        db.session.execute(text("SELECT 1"))
        outbox = outbox_backlog()
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    body = {"status": "ok", "database": "ok", "outbox": outbox}
    if current_app.config.get("REDIS_URL"):
        # Reported, but the host stays "ok" (the contract): the outbox keeps every message.
        body["redis"] = "ok" if redis_answers(current_app.config["REDIS_URL"]) else "unreachable"
    return jsonify(body), 200


def outbox_backlog() -> dict[str, int | bool]:
    """Messages waiting to be sent and those that failed for good; is delivery stalled?

    ``oldest_waiting_seconds`` is how long the longest-overdue message has been due
    (since its first attempt was due, or since its retry backoff ended; 0 when nothing
    is due). A message waiting out its backoff is not overdue, so a high value means
    nothing is picking up due mail (a dead worker), not that the relay refuses it.
    ``stalled`` is true when that exceeds ``OUTBOX_STALLED_SECONDS`` while an SMTP
    relay is configured (without one, mail waits in the outbox by design).
    """
    counts = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count())
            .where(
                OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value])
            )
            .group_by(OutboxMessage.status)
        ).all()
    )
    now = utcnow()
    oldest_due = db.session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.next_attempt_at <= now,
        )
    )
    overdue = max(int((now - oldest_due).total_seconds()), 0) if oldest_due else 0
    return {
        "waiting": counts.get(OutboxStatus.PENDING.value, 0),
        "failed": counts.get(OutboxStatus.FAILED.value, 0),
        "oldest_waiting_seconds": overdue,
        "stalled": bool(current_app.config.get("MAIL_SERVER"))
        and overdue > current_app.config["OUTBOX_STALLED_SECONDS"],
    }


def redis_answers(url: str) -> bool:
    """True when Redis at ``url`` answers a PING within a second."""
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


def register_error_pages(app: Flask) -> None:
    """Render friendly pages instead of Werkzeug's bare ones."""

    def _page(code: int, title: str, message: str):
        if problems.is_api_request():
            # An API address outside the API's blueprints (an unknown path, a wrong
            # method, a body over the app's limit): a problem, never an HTML page.
            return problems.problem(code), code
        # Rendered without the request's context processors: they would load the signed-in
        # person from the database, which may be the very thing that failed.
        template = app.jinja_env.get_template("errors/error.html")
        page = template.render(code=code, title=title, message=message)
        return make_response(page), code

    @app.errorhandler(CSRFError)
    def csrf_refused(_error):
        return _page(
            400,
            "The form could not be accepted",
            "This form was sent without a valid security token (it may have been open "
            "in another session, or sent from another site). Nothing was changed; "
            "reload the page and try again.",
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(_error):
        # A request for a host the console does not serve (TRUSTED_HOSTS) has no URL
        # adapter, so the page cannot link anywhere: a plain answer, nothing built.
        response = make_response(
            "400 Bad Request: this console is not served at the address asked for.\n", 400
        )
        response.mimetype = "text/plain"
        return response

    @app.errorhandler(400)
    def bad_request(error):
        # Refusals raised with ``abort(400, "why")`` say why; Werkzeug's own text does not.
        description = getattr(error, "description", None)
        if not description or description == BadRequest.description:
            description = "Part of the request was not valid. Nothing was changed."
        return _page(400, "The request could not be accepted", description)

    @app.errorhandler(403)
    def forbidden(_error):
        return _page(
            403,
            "Not allowed",
            "Your role does not give you access to this page or action. "
            "If you need it, ask an administrator.",
        )

    @app.errorhandler(404)
    def not_found(_error):
        return _page(404, "Page not found", "There is nothing at this address.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        # What has effects (starting an export) answers a form's POST only: a link,
        # a bookmark or a typed address lands here.
        response, code = _page(
            405,
            "Use the console's button",
            "This address answers a form of the console, not a link or a typed address "
            "(an export starts from the Export menu of its list). Nothing was done.",
        )
        response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or ())
        return response, code

    @app.errorhandler(413)
    def too_large(_error):
        limit = current_app.config["IMPORT_MAX_BYTES"]
        return _page(
            413,
            "The upload is too large",
            f"The console takes files of up to {limit:,} bytes. Split the file into "
            "smaller ones and upload them one by one. Nothing was changed.",
        )

    @app.errorhandler(OperationalError)
    def database_unavailable(_error):
        _discard_session()
        return _page(
            503,
            "The database is not answering",
            "Nothing was saved. The console reconnects by itself: try again in a moment.",
        )

    @app.errorhandler(429)
    def too_many_requests(error):
        wait = seconds_until_retry()
        when = f"in about {wait} seconds" if wait else "in a few minutes"
        description = getattr(error, "description", None) or "Too many attempts."
        response = _page(
            429,
            "Please wait a moment",
            f"{description} For your account's safety, try again {when}.",
        )
        if wait:
            response[0].headers["Retry-After"] = str(wait)
        return response

    @app.errorhandler(500)
    def server_error(_error):
        _discard_session()
        return _page(
            500,
            "Something went wrong",
            "The console could not finish this request; nothing was saved. "
            "Try again, and tell an administrator if it keeps happening.",
        )


def _discard_session() -> None:
    """Roll back whatever the failed request had begun, even on a dead connection."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.remove()
