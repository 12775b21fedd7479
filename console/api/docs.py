"""The API's interactive documentation: Swagger UI, served from local files.

The page loads Swagger UI's script and style from the ``swagger-ui-bundle`` package
(no CDN: the console works on a network without internet) and starts it from a static
script of the console's own, so that the Content-Security-Policy needs no inline code.
"""

from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


@bp.get("/docs")
def page():
    """The interactive page of the OpenAPI document."""
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))


@bp.get("/docs/assets/<name>")
def asset(name: str):
    """One of Swagger UI's files, from the installed package."""
    if name not in ASSETS:
        from flask import abort

        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)
