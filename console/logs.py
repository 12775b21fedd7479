"""Logging, configured in one place with ``logging.config.dictConfig``.

``LOG_FORMAT`` picks ``console`` (readable lines, the default) or ``json`` (one JSON
object per line, for log shippers); ``LOG_FILE`` adds a size-rotated file; ``LOG_LEVEL``
sets the level. Every record carries the request id of the request that wrote it (``-``
outside requests): the id of ``console.request_id``, which the audit trail records too
and the response's ``X-Request-ID`` header sends back.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from flask import Flask, Response

from console.request_id import REQUEST_ID_HEADER, request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


def logging_config(app: Flask) -> dict[str, Any]:
    """The ``dictConfig`` for ``app``'s settings."""
    level = app.config.get("LOG_LEVEL", "INFO")
    formatter = "json" if app.config.get("LOG_FORMAT") == "json" else "console"
    handlers: dict[str, dict[str, Any]] = {
        "stream": {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "filters": ["request_id"],
        }
    }
    if app.config.get("LOG_FILE"):
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": app.config["LOG_FILE"],
            "maxBytes": 10 * 1024 * 1024,
            "backupCount": 5,
            "formatter": formatter,
            "filters": ["request_id"],
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "console": {
                "format": "%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s"
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": handlers,
        "loggers": {
            "console": {"level": level},
            "gunicorn.error": {"level": level, "propagate": True},
        },
        "root": {"level": level, "handlers": list(handlers)},
    }


def configure_logging(app: Flask) -> None:
    """Apply the logging configuration and send each request's id back in its response."""
    if not app.config.get("TESTING"):
        # Tests keep pytest's own log capture.
        logging.config.dictConfig(logging_config(app))

    @app.after_request
    def _return_request_id(response: Response) -> Response:
        current = request_id()
        if current is not None:
            response.headers[REQUEST_ID_HEADER] = current
        return response


def configure_sentry(app: Flask) -> None:
    """Report errors to Sentry when ``SENTRY_DSN`` is set (needs the ``sentry`` extra)."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    try:
        # Imported only when configured: sentry-sdk is an optional extra.
        import sentry_sdk
    except ImportError:
        logging.getLogger("console").warning(
            "SENTRY_DSN is set but sentry-sdk is not installed; "
            "install it with: pip install 'sentry-sdk[flask]'"
        )
        return
    sentry_sdk.init(dsn=dsn, environment=app.config["ENV_NAME"], send_default_pii=False)
