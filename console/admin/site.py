"""Flask-Admin for one app: the secured home page and the declared table of views."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext

from console import audit
from console.admin import menu
from console.admin.api_tokens import ApiTokensView
from console.admin.audit import AuditEventAdmin
from console.admin.customers import CustomerAdmin
from console.admin.dashboard import DashboardView
from console.admin.jobs import JobsView
from console.admin.keepalive import KeepAliveView
from console.admin.notifications import NotificationAdmin
from console.admin.orders import OrderAdmin, PendingOrderAdmin
from console.admin.pricing import PromotionAdmin, ShippingMethodAdmin, TaxRateAdmin
from console.admin.products import ProductAdmin
from console.admin.profile import ProfileView
from console.admin.registry import ADMIN_EXTENSION, VIEWS_EXTENSION, register_view
from console.admin.returns import ReturnAdmin
from console.admin.saved_filters import SavedFiltersView, saved_filters_of
from console.admin.sessions import SessionsView
from console.admin.staff import RoleAdmin, StaffUserAdmin
from console.admin.stock import StockAdjustView, StockMovementAdmin
from console.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin
from console.database import db
from console.models import (
    AuditEvent,
    Customer,
    Order,
    OutboxMessage,
    Product,
    Promotion,
    Return,
    Role,
    ShippingMethod,
    StockMovement,
    TaxRate,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from console.security.headers import csp_nonce


@dataclass(frozen=True)
class ModelViewEntry:
    """One model view of the console: its class, model, menu name and address."""

    view: type
    model: type
    name: str
    """The menu name, a lazy translation: Flask-Admin renders it in the viewer's language."""
    endpoint: str
    url: str | None = None
    category: str | None = None


MODEL_VIEWS: tuple[ModelViewEntry, ...] = (
    ModelViewEntry(OrderAdmin, Order, lazy_gettext("Orders"), "order"),
    ModelViewEntry(
        PendingOrderAdmin, Order, lazy_gettext("Pending approval"), "pending_order", url="pending"
    ),
    ModelViewEntry(CustomerAdmin, Customer, lazy_gettext("Customers"), "customer"),
    ModelViewEntry(ProductAdmin, Product, lazy_gettext("Products"), "product"),
    ModelViewEntry(
        StockMovementAdmin,
        StockMovement,
        lazy_gettext("Stock movements"),
        "stock_movement",
        url="stock/movements",
        category=lazy_gettext("Stock"),
    ),
    ModelViewEntry(
        ReturnAdmin,
        Return,
        lazy_gettext("Returns"),
        "order_return",
        url="returns",
        category=lazy_gettext("Stock"),
    ),
    ModelViewEntry(
        PromotionAdmin,
        Promotion,
        lazy_gettext("Promotion codes"),
        "promotion",
        category=lazy_gettext("Pricing"),
    ),
    ModelViewEntry(
        ShippingMethodAdmin,
        ShippingMethod,
        lazy_gettext("Shipping methods"),
        "shipping_method",
        category=lazy_gettext("Pricing"),
    ),
    ModelViewEntry(
        TaxRateAdmin,
        TaxRate,
        lazy_gettext("Tax rates"),
        "tax_rate",
        category=lazy_gettext("Pricing"),
    ),
    ModelViewEntry(NotificationAdmin, OutboxMessage, lazy_gettext("Notifications"), "notification"),
    ModelViewEntry(AuditEventAdmin, AuditEvent, lazy_gettext("Audit trail"), "audit"),
    ModelViewEntry(
        StaffUserAdmin,
        User,
        lazy_gettext("Staff accounts"),
        "staff_user",
        category=lazy_gettext("Admin"),
    ),
    ModelViewEntry(RoleAdmin, Role, lazy_gettext("Roles"), "role", category=lazy_gettext("Admin")),
    ModelViewEntry(
        WebhookEndpointAdmin,
        WebhookEndpoint,
        lazy_gettext("Endpoints"),
        "webhook_endpoint",
        category=lazy_gettext("Admin"),
    ),
    ModelViewEntry(
        WebhookDeliveryAdmin,
        WebhookDelivery,
        lazy_gettext("Deliveries"),
        "webhook_delivery",
        category=lazy_gettext("Admin"),
    ),
)
"""The console's model views, in menu order (the dashboard comes first)."""


def init_admin(app: Flask) -> Admin:
    """Build the app's ``Admin`` (a fresh one per app) and register its views."""
    index = DashboardView(name=lazy_gettext("Home"), url="/admin")
    admin = Admin(
        app,
        name=app.config["CONSOLE_NAME"],
        url="/admin",
        index_view=index,
        csp_nonce_generator=csp_nonce,
        theme=Bootstrap4Theme(
            swatch=app.config["FLASK_ADMIN_SWATCH"],
            base_template="admin/master.html",
            fluid=True,
        ),
    )
    app.extensions[ADMIN_EXTENSION] = admin
    menu.init_app(app)
    app.jinja_env.globals["saved_filters_of"] = saved_filters_of
    app.jinja_env.filters["action_label"] = audit.action_label
    app.extensions[VIEWS_EXTENSION] = [index]
    for entry in MODEL_VIEWS:
        register_view(
            app,
            entry.view(
                entry.model,
                db,
                name=entry.name,
                endpoint=entry.endpoint,
                url=entry.url,
                category=entry.category,
            ),
        )
    register_view(
        app,
        StockAdjustView(
            name=lazy_gettext("Adjust stock"),
            endpoint="stock_adjust",
            url="stock/adjust",
            category=lazy_gettext("Stock"),
        ),
    )
    register_view(
        app,
        ApiTokensView(
            name=lazy_gettext("API tokens"),
            endpoint="api_tokens",
            url="api_tokens",
            category=lazy_gettext("Admin"),
        ),
    )
    register_view(app, JobsView(name=lazy_gettext("Jobs"), endpoint="jobs", url="jobs"))
    register_view(
        app, SessionsView(name=lazy_gettext("Your sessions"), endpoint="sessions", url="sessions")
    )
    register_view(
        app, KeepAliveView(name=lazy_gettext("Keep-alive"), endpoint="keepalive", url="keepalive")
    )
    register_view(app, ProfileView(name=lazy_gettext("Profile"), endpoint="profile", url="profile"))
    register_view(
        app,
        SavedFiltersView(
            name=lazy_gettext("Saved filters"), endpoint="saved_filters", url="saved-filters"
        ),
    )
    return admin
