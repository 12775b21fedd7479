"""Flask-Admin for one app: the secured home page and the declared table of views."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

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
    endpoint: str
    url: str | None = None
    category: str | None = None


MODEL_VIEWS: tuple[ModelViewEntry, ...] = (
    ModelViewEntry(OrderAdmin, Order, "Orders", "order"),
    ModelViewEntry(PendingOrderAdmin, Order, "Pending approval", "pending_order", url="pending"),
    ModelViewEntry(CustomerAdmin, Customer, "Customers", "customer"),
    ModelViewEntry(ProductAdmin, Product, "Products", "product"),
    ModelViewEntry(
        StockMovementAdmin,
        StockMovement,
        "Stock movements",
        "stock_movement",
        url="stock/movements",
        category="Stock",
    ),
    ModelViewEntry(ReturnAdmin, Return, "Returns", "order_return", url="returns", category="Stock"),
    ModelViewEntry(PromotionAdmin, Promotion, "Promotion codes", "promotion", category="Pricing"),
    ModelViewEntry(
        ShippingMethodAdmin,
        ShippingMethod,
        "Shipping methods",
        "shipping_method",
        category="Pricing",
    ),
    ModelViewEntry(TaxRateAdmin, TaxRate, "Tax rates", "tax_rate", category="Pricing"),
    ModelViewEntry(NotificationAdmin, OutboxMessage, "Notifications", "notification"),
    ModelViewEntry(AuditEventAdmin, AuditEvent, "Audit trail", "audit"),
    ModelViewEntry(StaffUserAdmin, User, "Staff accounts", "staff_user", category="Admin"),
    ModelViewEntry(RoleAdmin, Role, "Roles", "role", category="Admin"),
    ModelViewEntry(
        WebhookEndpointAdmin,
        WebhookEndpoint,
        "Endpoints",
        "webhook_endpoint",
        category="Admin",
    ),
    ModelViewEntry(
        WebhookDeliveryAdmin,
        WebhookDelivery,
        "Deliveries",
        "webhook_delivery",
        category="Admin",
    ),
)
"""The console's model views, in menu order (the dashboard comes first)."""


def init_admin(app: Flask) -> Admin:
    """Build the app's ``Admin`` (a fresh one per app) and register its views."""
    index = DashboardView(name="Home", url="/admin")
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
    app.jinja_env.globals["saved_filters_of"] = saved_filters_of
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
            name="Adjust stock", endpoint="stock_adjust", url="stock/adjust", category="Stock"
        ),
    )
    register_view(
        app,
        ApiTokensView(name="API tokens", endpoint="api_tokens", url="api_tokens", category="Admin"),
    )
    register_view(app, JobsView(name="Jobs", endpoint="jobs", url="jobs"))
    register_view(app, SessionsView(name="Your sessions", endpoint="sessions", url="sessions"))
    register_view(app, KeepAliveView(name="Keep-alive", endpoint="keepalive", url="keepalive"))
    register_view(app, ProfileView(name="Profile", endpoint="profile", url="profile"))
    register_view(
        app, SavedFiltersView(name="Saved filters", endpoint="saved_filters", url="saved-filters")
    )
    return admin
