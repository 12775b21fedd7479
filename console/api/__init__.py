"""The JSON API, ``/api/v1``, on Flask-Smorest: schemas, tokens, problems, resources.

``init_api`` builds the app's ``Api`` (one per app, as Flask-Admin's ``Admin``): its
OpenAPI document at ``/api/v1/openapi.json``, the interactive page at
``/api/v1/docs`` (Swagger UI from local files), and the resource blueprints. The
declared permission of each operation is recorded for the view registry, which
refuses to start an app with an undeclared endpoint.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api as SmorestApi
from flask_smorest.spec import prepare_response

from console.admin.registry import API_REQUIREMENTS_EXTENSION
from console.api import auth, base, customers, docs, jobs, orders, products
from console.api.problems import API_PREFIX, PROBLEM_MIMETYPE
from console.api.schemas import ProblemSchema

RESOURCES = (customers.blp, products.blp, orders.blp, jobs.blp)

BEARER = {"type": "http", "scheme": "bearer", "description": "An API token made in the console."}


class Api(SmorestApi):
    """Flask-Smorest's ``Api`` with the console's errors.

    Errors are documented as problem+json, and no app-wide error handler is added:
    the resource blueprints answer their errors (``console.api.base``), and the
    console's error pages answer problems for API addresses outside them (an unknown
    path, ``console.web``).
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """None app-wide (see the class): the console's pages stay HTML."""

    def _register_responses(self) -> None:
        import http

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


SETTINGS: dict[str, Any] = {
    "API_TITLE": "Back-office console API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    # The interactive page is the console's own (docs.py): Flask-Smorest's templates
    # load their scripts from a CDN and run inline code the CSP refuses.
    "OPENAPI_SWAGGER_UI_PATH": None,
    "OPENAPI_REDOC_PATH": None,
    "OPENAPI_RAPIDOC_PATH": None,
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Customers, products and orders of the back-office console. "
                "Authenticate with 'Authorization: Bearer <token>' (tokens are made by "
                "administrators in the console). Errors are RFC 9457 problem details."
            )
        },
        "components": {"securitySchemes": {"bearer": BEARER}},
        "security": [{"bearer": []}],
        "servers": [{"url": "/"}],
    },
}


def init_api(app: Flask) -> None:
    """Serve the API on ``app``: document, docs page, resources, declared permissions."""
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    app.json = base.DepthSafeJSONProvider(app)
    api = Api(app)
    for blueprint in RESOURCES:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.bp)
    auth.strip_cookies(app, API_PREFIX)
    app.extensions[API_REQUIREMENTS_EXTENSION] = {
        endpoint: auth.requirement_of(view)
        for endpoint, view in app.view_functions.items()
        if endpoint.partition(".")[0] in {blueprint.name for blueprint in RESOURCES}
    }
