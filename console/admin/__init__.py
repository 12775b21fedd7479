"""Flask-Admin for one app: the secured home page and one view per model."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from console.admin.audit import AuditEventAdmin
from console.admin.customers import CustomerAdmin
from console.admin.dashboard import DashboardView
from console.admin.notifications import NotificationAdmin
from console.admin.orders import OrderAdmin, PendingOrderAdmin
from console.admin.products import ProductAdmin
from console.admin.staff import RoleAdmin, StaffUserAdmin
from console.extensions import db
from console.models import AuditEvent, Customer, Order, OutboxMessage, Product, Role, User
from console.security import csp_nonce


def init_admin(app: Flask) -> Admin:
    """Build the app's ``Admin`` (a fresh one per app) and register its views."""
    admin = Admin(
        app,
        name=app.config["CONSOLE_NAME"],
        url="/admin",
        index_view=DashboardView(name="Home", url="/admin"),
        csp_nonce_generator=csp_nonce,
        theme=Bootstrap4Theme(
            swatch=app.config["FLASK_ADMIN_SWATCH"], base_template="admin/master.html"
        ),
    )
    admin.add_view(OrderAdmin(Order, db, name="Orders", endpoint="order"))
    admin.add_view(
        PendingOrderAdmin(
            Order, db, name="Pending approval", endpoint="pending_order", url="pending"
        )
    )
    admin.add_view(CustomerAdmin(Customer, db, name="Customers", endpoint="customer"))
    admin.add_view(ProductAdmin(Product, db, name="Products", endpoint="product"))
    admin.add_view(
        NotificationAdmin(OutboxMessage, db, name="Notifications", endpoint="notification")
    )
    admin.add_view(AuditEventAdmin(AuditEvent, db, name="Audit trail", endpoint="audit"))
    admin.add_view(
        StaffUserAdmin(User, db, name="Staff accounts", endpoint="staff_user", category="Staff")
    )
    admin.add_view(RoleAdmin(Role, db, name="Roles", endpoint="role", category="Staff"))
    app.extensions["console_admin"] = admin
    return admin
