"""The back-office console: a Flask-Admin application for a shop's staff.

``create_app`` is the only place that wires the application together.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
from console import audit, cli, customer_page, localtime, models, notify, session_hooks, web
from console.admin.registry import check_declared
from console.admin.site import init_admin
from console.api import init_api
from console.audit import signals as audit_signals
from console.database import db, init_database
from console.extensions import babel, csrf, mail
from console.jobs import runtime as jobs_runtime
from console.logs import configure_logging, configure_sentry
from console.security import init_security, register_hardening
from console.security import invitations as invitation_pages
from console.security.links import ConsoleFlask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the console app; ``config`` overrides the environment's settings.

    ``config`` uses Flask's keys (``CONSOLE_CONFIG`` among them picks the environment);
    the settings derived from others follow it (see ``config.load``).
    """
    app = ConsoleFlask(__name__, template_folder="../templates", instance_relative_config=False)
    app.config.update(settings.load(overrides=config))

    register_proxy(app)
    register_logging(app)
    register_extensions(app)
    register_session_hooks(app)
    register_audit(app)
    register_admin(app)
    register_security(app)
    register_blueprints(app)
    register_templates(app)
    register_errorhandlers(app)
    register_api(app)
    register_commands(app)
    register_shell_context(app)
    register_outbox(app)
    register_jobs(app)
    check_declared(app)
    return app


def register_proxy(app: Flask) -> None:
    """Trust the load balancers' X-Forwarded-* headers, as many hops as configured."""
    hops = app.config["PROXY_COUNT"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_logging(app: Flask) -> None:
    """Logging with request ids, and Sentry when configured."""
    configure_logging(app)
    configure_sentry(app)


def register_extensions(app: Flask) -> None:
    """Bind the database and the unbound extensions, and build the app's Security."""
    init_database(app)
    mail.init_app(app)
    babel.init_app(app, default_translation_directories="translations")
    csrf.init_app(app)
    init_security(app)


def register_session_hooks(app: Flask) -> None:
    """What runs at flush and commit: audit capture, owners' versions, outbox wake-up."""
    session_hooks.install()


def register_audit(app: Flask) -> None:
    """Check the models' audit specs and record security events in the audit trail."""
    audit.check_specs()
    audit_signals.init_app(app)


def register_admin(app: Flask) -> None:
    """Build this app's Flask-Admin with its views."""
    init_admin(app)


def register_security(app: Flask) -> None:
    """Sign-in limits, idle timeout, security headers, the admin look of sign-in pages."""
    register_hardening(app)


def register_blueprints(app: Flask) -> None:
    """Mount the console's own pages (home redirect, health check, invitations, the
    customers' order pages)."""
    app.register_blueprint(web.bp)
    app.register_blueprint(invitation_pages.bp)
    app.register_blueprint(customer_page.bp)


def register_templates(app: Flask) -> None:
    """What every template may use: times in the reader's zone."""
    localtime.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for the errors a person can meet."""
    web.register_error_pages(app)


def register_api(app: Flask) -> None:
    """The JSON API at /api/v1 (tokens, OpenAPI document, docs page)."""
    init_api(app)


def register_outbox(app: Flask) -> None:
    """Deliver queued e-mail after each commit (in-process thread or RQ jobs)."""
    notify.init_app(app)


def register_jobs(app: Flask) -> None:
    """Run queued background jobs (in-process thread or RQ triggers) after each commit."""
    jobs_runtime.init_app(app)


def register_commands(app: Flask) -> None:
    """Add the console's ``flask`` sub-commands."""
    cli.register(app)


def register_shell_context(app: Flask) -> None:
    """Give ``flask shell`` ``db`` and everything ``console.models`` exports.

    Flask-SQLAlchemy already adds the mapped classes; this adds the rest of the models'
    public names (the status and reason enums), so a shell session starts with what
    queries need.
    """

    @app.shell_context_processor
    def _shell_context() -> dict[str, Any]:
        context: dict[str, Any] = {"db": db}
        context.update({name: getattr(models, name) for name in models.__all__})
        return context
