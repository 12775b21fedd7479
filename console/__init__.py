"""The back-office console: a Flask-Admin application for a shop's staff.

``create_app`` is the only place that wires the application together.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

import config as settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the console app; ``config`` overrides the environment's settings."""
    app = Flask(__name__, template_folder="../templates", instance_relative_config=False)
    app.config.from_object(settings.load_config((config or {}).get("CONSOLE_CONFIG")))
    if config:
        app.config.update(config)
    if app.config["ENV_NAME"] == "production":
        settings.check_production_secrets(app.config)

    register_proxy(app)
    register_logging(app)
    register_extensions(app)
    register_audit(app)
    register_admin(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_outbox(app)
    return app


def register_proxy(app: Flask) -> None:
    """Trust the load balancers' X-Forwarded-* headers, as many hops as configured."""
    hops = app.config["PROXY_COUNT"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_logging(app: Flask) -> None:
    """Logging with request ids, and Sentry when configured."""
    from console.logs import configure_logging, configure_sentry

    configure_logging(app)
    configure_sentry(app)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions of ``console.extensions`` to ``app``."""
    from flask_security import SQLAlchemyUserDatastore

    from console.extensions import csrf, db, mail, security
    from console.models import Role, User
    from console.models.base import (
        close_sessions_safely,
        enable_sqlite_foreign_keys,
        ensure_sqlite_directory,
    )

    ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    close_sessions_safely(app)
    with app.app_context():
        enable_sqlite_foreign_keys(db.engine)
    mail.init_app(app)
    csrf.init_app(app)
    security.init_app(app, SQLAlchemyUserDatastore(db, User, Role))


def register_audit(app: Flask) -> None:
    """Record every change and security event in the audit trail, in its transaction."""
    from console.services import audit, audit_signals, concurrency

    audit.install()
    concurrency.install()
    audit_signals.init_app(app)


def register_admin(app: Flask) -> None:
    """Build this app's Flask-Admin with its views."""
    from console.admin import init_admin

    init_admin(app)


def register_security(app: Flask) -> None:
    """Sign-in rate limits, security headers and the admin look of the sign-in pages."""
    from console.security import (
        register_idle_timeout,
        register_rate_limits,
        register_security_context,
        register_security_headers,
    )

    register_rate_limits(app)
    register_idle_timeout(app)
    register_security_headers(app)
    register_security_context(app)


def register_blueprints(app: Flask) -> None:
    """Mount the console's own pages (home redirect, health check)."""
    from console.web import bp

    app.register_blueprint(bp)


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for the errors a person can meet."""
    from console.web import register_error_pages

    register_error_pages(app)


def register_outbox(app: Flask) -> None:
    """Deliver queued e-mail after each commit (in-process thread or RQ jobs)."""
    from console.notify import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    """Add the console's ``flask`` sub-commands."""
    from console.cli import register

    register(app)
