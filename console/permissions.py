"""The one table of roles and their permissions (DESIGN.md's matrix).

Roles are data: these are the defaults the first migration and the seed command create.
Flask-Security-Too turns each permission of a person's roles into a Flask-Principal need,
so code asks ``current_user.has_permission(...)`` for a permission, never for a role name.
"""

from __future__ import annotations

from flask import g, has_request_context
from flask_login import current_user
from flask_principal import Need, Permission

CUSTOMERS_READ = "customers.read"
CUSTOMERS_WRITE = "customers.write"
CUSTOMERS_DELETE = "customers.delete"
PRODUCTS_READ = "products.read"
PRODUCTS_WRITE = "products.write"
PRODUCTS_DELETE = "products.delete"
ORDERS_READ = "orders.read"
ORDERS_WRITE = "orders.write"
ORDERS_APPROVE = "orders.approve"
ORDERS_FULFIL = "orders.fulfil"
ORDERS_CANCEL = "orders.cancel"
NOTIFICATIONS_READ = "notifications.read"
AUDIT_READ = "audit.read"
EXPORT = "export"
STAFF_MANAGE = "staff.manage"
PROMOTIONS_MANAGE = "promotions.manage"
STOCK_ADJUST = "stock.adjust"
RETURNS_MANAGE = "returns.manage"

ALL_PERMISSIONS: tuple[str, ...] = (
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    CUSTOMERS_DELETE,
    PRODUCTS_READ,
    PRODUCTS_WRITE,
    PRODUCTS_DELETE,
    ORDERS_READ,
    ORDERS_WRITE,
    ORDERS_APPROVE,
    ORDERS_FULFIL,
    ORDERS_CANCEL,
    NOTIFICATIONS_READ,
    AUDIT_READ,
    EXPORT,
    STAFF_MANAGE,
    PROMOTIONS_MANAGE,
    STOCK_ADJUST,
    RETURNS_MANAGE,
)

PERMISSION_INFO: dict[str, tuple[str, str, str]] = {
    CUSTOMERS_READ: ("Customers", "See customers", "Open the customer list and pages."),
    CUSTOMERS_WRITE: (
        "Customers",
        "Create and edit customers",
        "New customers, changes to customers.",
    ),
    CUSTOMERS_DELETE: ("Customers", "Delete customers", "Remove customer records."),
    PRODUCTS_READ: ("Products", "See products", "Open the product list and pages."),
    PRODUCTS_WRITE: (
        "Products",
        "Create and edit products",
        "Prices, tax rate, a new product's initial stock.",
    ),
    PRODUCTS_DELETE: ("Products", "Delete products", "Remove product records."),
    ORDERS_READ: ("Orders", "See orders", "Open the order list and order pages."),
    ORDERS_WRITE: ("Orders", "Take and edit orders", "Create orders, edit pending ones."),
    ORDERS_APPROVE: ("Orders", "Approve or reject orders", "Decide on pending orders."),
    ORDERS_FULFIL: ("Orders", "Ship and deliver orders", "Mark orders shipped, delivered."),
    ORDERS_CANCEL: ("Orders", "Cancel orders", "Cancel pending or approved orders."),
    NOTIFICATIONS_READ: ("Oversight", "See and resend e-mails", "The outbox of e-mails."),
    AUDIT_READ: ("Oversight", "See the audit trail", "Who changed what, and when."),
    EXPORT: ("Oversight", "Export lists as CSV", "Download what a list shows."),
    STAFF_MANAGE: ("Administration", "Manage staff", "Accounts, roles, everyone's jobs."),
    PROMOTIONS_MANAGE: (
        "Administration",
        "Manage pricing",
        "Promotion codes, tax rates, shipping methods.",
    ),
    STOCK_ADJUST: (
        "Products",
        "Adjust stock",
        "Record goods received, counts, damage and loss.",
    ),
    RETURNS_MANAGE: ("Orders", "Handle returns", "Returns of shipped orders, back to stock."),
}
"""Each permission's area, name and description, as the role page shows them."""

_MANAGER = frozenset(ALL_PERMISSIONS) - {PRODUCTS_DELETE, STAFF_MANAGE}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ALL_PERMISSIONS),
    "manager": _MANAGER,
    "clerk": frozenset(
        {
            CUSTOMERS_READ,
            CUSTOMERS_WRITE,
            PRODUCTS_READ,
            ORDERS_READ,
            ORDERS_WRITE,
            ORDERS_FULFIL,
            RETURNS_MANAGE,
        }
    ),
    "viewer": frozenset({CUSTOMERS_READ, PRODUCTS_READ, ORDERS_READ, AUDIT_READ, EXPORT}),
}

ROLE_DESCRIPTIONS: dict[str, str] = {
    "admin": "Everything a manager does, plus staff accounts, roles and permissions",
    "manager": "Approves or rejects orders, keeps the catalogue and prices",
    "clerk": "Takes orders, keeps customer records, ships approved orders",
    "viewer": "Read-only: sees records and the audit trail, changes nothing",
}


Requirement = tuple[str, ...] | None
"""What an endpoint or action asks for: every listed permission (``()``: being signed
in is enough), or ``None``: nobody may use it."""

PUBLIC = "public"
"""Marks an endpoint anyone may open (sign-in pages, health check, static files)."""

# Endpoints outside Flask-Admin, by blueprint (or exact endpoint): they do their own
# checks (Flask-Security's pages ask for sign-in where they need it).
# The API's OpenAPI document and its documentation page hold no data: anyone may read
# them (a storefront's script starts from the document); the API itself takes a token.
# The customer's order page is admitted by its signed link (console.customer_page).
PUBLIC_BLUEPRINTS = frozenset({"security", "web", "api-docs", "api_docs", "customer_page"})
# The invitation page is admitted by its signed link, like the password reset page.
PUBLIC_ENDPOINTS = frozenset({"static", "admin.static", "invitations.accept"})


class UndeclaredPermission(LookupError):
    """An endpoint or action has no declared permission (a programming error)."""


def satisfies(requirement: Requirement) -> bool:
    """True when the current identity holds every permission of ``requirement``."""
    if requirement is None:
        return False
    return all(can(permission) for permission in requirement) and can(None)


def can(permission: str | None) -> bool:
    """True when the current identity holds ``permission`` (a Flask-Principal need).

    Flask-Security-Too loads the identity of each request and gives it one
    ``Need("fsperm", name)`` per permission of the person's roles; anonymous visitors
    hold none. ``None`` means "no permission needed beyond being signed in".
    """
    if not has_request_context():
        return _holds(permission)
    answers = _answers_of_this_identity()
    if permission not in answers:
        answers[permission] = _holds(permission)
    return answers[permission]


def _holds(permission: str | None) -> bool:
    if not current_user.is_authenticated:
        return False
    if permission is None:
        return True
    return Permission(Need("fsperm", permission)).can()


def _answers_of_this_identity() -> dict[str | None, bool]:
    """The answers given so far in this request, for its current identity.

    A page asks the same few questions many times (the menu asks one per entry, the
    list one per action and button): each answer is worked out once per request. The
    answers belong to the identity Flask-Principal holds (``g.identity``): a sign-in
    or sign-out within the request installs another identity, which starts afresh.
    """
    identity = g.get("identity")
    kept = g.get("console_permission_answers")
    if kept is None or kept[0] is not identity:
        kept = (identity, {})
        g.console_permission_answers = kept
    return kept[1]
