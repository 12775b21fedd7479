"""The console's declared registry of admin views.

Flask-Admin keeps the views it serves in a private list (``Admin._views``); the
console keeps its own, so that permissions, the Content-Security-Policy and the tests
iterate a public, declared list. Every view reaches Flask-Admin through
``register_view``, which adds it to both. It imports only ``console.permissions`` of the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from console.permissions import (
    PUBLIC,
    PUBLIC_BLUEPRINTS,
    PUBLIC_ENDPOINTS,
    Requirement,
    UndeclaredPermission,
)

if TYPE_CHECKING:
    from flask_admin import Admin, BaseView

ADMIN_EXTENSION = "console_admin"
VIEWS_EXTENSION = "console_views"
API_REQUIREMENTS_EXTENSION = "console_api_requirements"
"""API endpoint -> the permissions its operation declared (``console.api.auth.requires``);
None for an endpoint that declared nothing."""


def register_view(app: Flask, view: BaseView) -> BaseView:
    """Serve ``view`` in ``app``'s admin and record it in the registry."""
    admin: Admin = app.extensions[ADMIN_EXTENSION]
    admin.add_view(view)
    app.extensions[VIEWS_EXTENSION].append(view)
    return view


def registered_views(app: Flask) -> tuple[BaseView, ...]:
    """Every view of ``app``'s admin, the home page first, in menu order."""
    return tuple(app.extensions.get(VIEWS_EXTENSION, ()))


def find_view(app: Flask, endpoint: str) -> BaseView | None:
    """The view serving ``endpoint`` (``"order"``), or None."""
    return next((view for view in registered_views(app) if view.endpoint == endpoint), None)


def endpoint_requirement(app, endpoint: str) -> Requirement | str:
    """What ``endpoint`` of ``app`` asks for: ``PUBLIC`` or a requirement.

    Every admin view of the console declares its permissions (``SecuredViewMixin``);
    anything else must be listed above. Raises ``UndeclaredPermission`` otherwise, so
    that the access tests fail for a view added without a declaration.
    """
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    blueprint, _, method = endpoint.rpartition(".")
    if blueprint in PUBLIC_BLUEPRINTS:
        return PUBLIC
    api_requirements = app.extensions.get(API_REQUIREMENTS_EXTENSION, {})
    if endpoint in api_requirements:
        if api_requirements[endpoint] is None:
            raise UndeclaredPermission(f"{endpoint}: API operation without auth.requires(...)")
        return api_requirements[endpoint]
    for view in registered_views(app):
        if view.endpoint == blueprint:
            permission_for = getattr(view, "permission_for", None)
            if permission_for is None:
                raise UndeclaredPermission(
                    f"{endpoint}: view {type(view).__name__} does not inherit the secured "
                    "base views and declares no permissions"
                )
            return permission_for(method)
    raise UndeclaredPermission(f"{endpoint}: no permission declared for this endpoint")


def check_declared(app: Flask) -> None:
    """Refuse to start an app with an endpoint that declares no permission.

    The access tests walk the same map; checking at start-up as well means a view
    added without a declaration never serves a request, tested or not.
    """
    for rule in app.url_map.iter_rules():
        endpoint_requirement(app, rule.endpoint)
