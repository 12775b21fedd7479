"""The access rules as DESIGN.md states them, written out literally for the tests.

The console's own table (``console.permissions.ROLE_PERMISSIONS``) and each view's
declared requirement are what is under test, so the expectations must not be derived
from them: a wrong declaration would then be expected as well. This module keeps

- ``DESIGN_TABLE``: DESIGN.md's "Roles and permissions" table, copied as it stands;
- ``ENDPOINTS`` and ``ACTIONS``: which of those permissions each endpoint, workflow
  transition and list action of the console asks for, in the design's own words
  (create and edit need the ``.write`` permission, CSV needs ``export``, and so on).

An endpoint or action missing here fails the access tests: adding one means stating
here, by hand, who may use it.
"""

from __future__ import annotations

DESIGN_TABLE = """
| permission | admin | manager | clerk | viewer |
| --- | :-: | :-: | :-: | :-: |
| customers.read | x | x | x | x |
| customers.write (create, edit) | x | x | x | |
| customers.delete | x | x | | |
| products.read | x | x | x | x |
| products.write | x | x | | |
| products.delete | x | | | |
| orders.read | x | x | x | x |
| orders.write (create, edit pending) | x | x | x | |
| orders.approve (approve, reject) | x | x | | |
| orders.fulfil (ship, deliver) | x | x | x | |
| orders.cancel | x | x | | |
| notifications.read (outbox, resend) | x | x | | |
| audit.read | x | x | | x |
| export (CSV) | x | x | | x |
| staff.manage (users, roles, API tokens, webhooks, all jobs) | x | | | |
| promotions.manage (codes, tax rates, shipping methods) | x | x | | |
| stock.adjust (receipts, counts, damage) | x | x | | |
| returns.manage (returns, back to stock) | x | x | x | |
"""


def parse_table(table: str) -> dict[str, frozenset[str]]:
    """Role -> permissions, read from a Markdown table like ``DESIGN_TABLE``."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.strip().splitlines()
    ]
    header, _rule, *body = rows
    roles = header[1:]
    granted: dict[str, set[str]] = {role: set() for role in roles}
    for permission_cell, *marks in body:
        assert len(marks) == len(roles), permission_cell
        permission = permission_cell.split(" ", 1)[0]
        for role, mark in zip(roles, marks, strict=True):
            assert mark in {"x", ""}, (permission, role, mark)
            if mark == "x":
                granted[role].add(permission)
    return {role: frozenset(permissions) for role, permissions in granted.items()}


DESIGN_PERMISSIONS: dict[str, frozenset[str]] = parse_table(DESIGN_TABLE)
"""Role -> the permissions DESIGN.md gives it."""

NOT_BUILT_YET: frozenset[str] = frozenset()
"""Permissions of the design whose features the console does not have yet, so its
table does not name them. When one is built, its permission must be granted exactly
as the design's table says. (``returns.manage`` is in the roles already, by the stock
ledger's migration, before the returns pages exist.)"""

SIGNED_IN: tuple[str, ...] = ()
"""Any signed-in person with a role."""

NOBODY = None
"""The operation is not offered: every signed-in person is refused."""

Needs = tuple[str, ...] | None


def _model_view(
    read: str,
    write: str | None,
    delete: str | None,
    export: bool,
    endpoint: str,
) -> dict[str, Needs]:
    """The endpoints Flask-Admin gives a model view, and what each needs."""
    needs_write = (read, write) if write else NOBODY
    return {
        f"{endpoint}.index_view": (read,),
        f"{endpoint}.details_view": (read,),
        f"{endpoint}.action_view": (read,),  # each action adds its own, see ACTIONS
        f"{endpoint}.create_view": needs_write,
        f"{endpoint}.edit_view": needs_write,
        f"{endpoint}.ajax_update": needs_write,
        f"{endpoint}.ajax_lookup": needs_write,
        f"{endpoint}.delete_view": (read, delete) if delete else NOBODY,
        f"{endpoint}.export": (read, "export") if export else NOBODY,
    }


ENDPOINTS: dict[str, Needs] = {
    "admin.index": SIGNED_IN,
    **_model_view("customers.read", "customers.write", "customers.delete", True, "customer"),
    **_model_view("products.read", "products.write", "products.delete", True, "product"),
    # The stock ledger: read (and exported) by whoever reads products, written by nobody
    # (the stock service writes it); adjustments need stock.adjust.
    **_model_view("products.read", None, None, True, "stock_movement"),
    "stock_adjust.index": ("stock.adjust",),
    # Returns: read by whoever reads orders, written only through their steps: a return
    # is created and received with returns.manage, refunded with orders.approve.
    **_model_view("orders.read", None, None, False, "order_return"),
    "order_return.request_view": ("orders.read", "returns.manage"),
    "order_return.receive_view": ("orders.read", "returns.manage"),
    "order_return.refund_view": ("orders.read", "orders.approve"),
    **_model_view("orders.read", "orders.write", None, True, "order"),
    # The approval queue: for those who approve; orders are taken and edited under Orders.
    **_model_view("orders.approve", None, None, True, "pending_order"),
    # The outbox is read (and messages resent), never written.
    **_model_view("notifications.read", None, None, False, "notification"),
    # The audit trail is read and exported; it has no route that writes.
    "audit.index_view": ("audit.read",),
    "audit.details_view": ("audit.read",),
    "audit.action_view": ("audit.read",),
    "audit.ajax_lookup": NOBODY,
    "audit.export": ("audit.read", "export"),
    # Promotion codes, shipping methods and tax rates: kept by those who manage pricing;
    # never deleted (orders and products refer to them), not exported.
    **_model_view("promotions.manage", "promotions.manage", None, False, "promotion"),
    **_model_view("promotions.manage", "promotions.manage", None, False, "shipping_method"),
    **_model_view("promotions.manage", "promotions.manage", None, False, "tax_rate"),
    # What saving the order form would store: for those who take and edit orders.
    "order.preview": ("orders.read", "orders.write"),
    "pending_order.preview": NOBODY,
    **_model_view("staff.manage", "staff.manage", None, False, "staff_user"),
    **_model_view("staff.manage", "staff.manage", None, False, "role"),
    # Webhook endpoints are staff management (DESIGN.md: "users, roles, API tokens,
    # webhooks"); never deleted (turned off instead). Their delivery log is read and
    # resent by the same people, never written.
    **_model_view("staff.manage", "staff.manage", None, False, "webhook_endpoint"),
    **_model_view("staff.manage", None, None, False, "webhook_delivery"),
    # A customer's address book as JSON, for the order form's address pickers: those
    # who take orders (it lists customer data, so reading customers as well).
    "customer.addresses_view": ("customers.read", "orders.write"),
    # Imports of customers and products (upload, template, map, preview, confirm): the
    # list's write permission, as DESIGN.md says ("imports need the write permission of
    # what they change"), on top of reading it.
    **{
        f"{endpoint}.{name}": (f"{kind}.read", f"{kind}.write")
        for endpoint, kind in (("customer", "customers"), ("product", "products"))
        for name in (
            "import_view",
            "import_template",
            "import_batch_view",
            "import_preview",
            "import_confirm",
        )
    },
    # Imports of stock counts, from the stock movements list: those who adjust stock.
    "stock_movement.import_view": ("products.read", "stock.adjust"),
    "stock_movement.import_template": ("products.read", "stock.adjust"),
    "stock_movement.import_batch_view": ("products.read", "stock.adjust"),
    "stock_movement.import_preview": ("products.read", "stock.adjust"),
    "stock_movement.import_confirm": ("products.read", "stock.adjust"),
    # The transition buttons of an order page: see TRANSITIONS.
    "order.transition_view": ("orders.read",),
    "pending_order.transition_view": ("orders.approve",),
    # An order's invoice and credit notes, downloaded from its page: whoever reads orders
    # (issue 14). Packing slips: those who ship (orders.fulfil). The approval queue
    # serves none of them (its orders have no documents yet).
    "order.invoice_pdf": ("orders.read",),
    "order.credit_note_pdf": ("orders.read",),
    "order.packing_slip": ("orders.read", "orders.fulfil"),
    "pending_order.invoice_pdf": NOBODY,
    "pending_order.credit_note_pdf": NOBODY,
    "pending_order.packing_slip": NOBODY,
    # Internal notes on an order's page: staff who write orders, on any status.
    "order.note_view": ("orders.read", "orders.write"),
    "pending_order.note_view": ("orders.approve", "orders.write"),
    # Where a person is signed in: everyone sees and ends their own sessions; ending
    # someone else's is staff management.
    "sessions.index": SIGNED_IN,
    "sessions.end_others": SIGNED_IN,
    "staff_user.end_sessions": ("staff.manage",),
    # How long the session has left (GET) and keeping it alive while typing (POST):
    # everyone signed in, for their own session.
    "keepalive.index": SIGNED_IN,
    # Background jobs: every signed-in person sees, follows, cancels and downloads their
    # own (another person's job answers 403 unless staff.manage: tests/test_jobs.py).
    "jobs.index": SIGNED_IN,
    "jobs.details": SIGNED_IN,
    "jobs.progress": SIGNED_IN,
    "jobs.cancel": SIGNED_IN,
    "jobs.notify": SIGNED_IN,
    "jobs.download": SIGNED_IN,
    # Each person's own profile (their time zone).
    "profile.index": SIGNED_IN,
    # Saved filters: every signed-in person saves, opens and deletes their own (another
    # person's answers 404), and each asks again for the list's read permission
    # (tests/test_saved_filters.py).
    "saved_filters.index": SIGNED_IN,
    "saved_filters.save_view": SIGNED_IN,
    "saved_filters.open_view": SIGNED_IN,
    "saved_filters.delete_view": SIGNED_IN,
    # API tokens: staff management (DESIGN.md: "staff.manage (users, roles, API tokens...)").
    "api_tokens.index": ("staff.manage",),
    "api_tokens.create": ("staff.manage",),
    "api_tokens.revoke": ("staff.manage",),
}
"""Endpoint -> the permissions it needs (all of them), ``SIGNED_IN`` or ``NOBODY``."""

API_ENDPOINTS: dict[str, Needs] = {
    # The JSON API asks what the console's equivalent pages ask, of the token.
    "api_customers.list": ("customers.read",),
    "api_customers.get": ("customers.read",),
    "api_customers.create": ("customers.read", "customers.write"),
    "api_customers.update": ("customers.read", "customers.write"),
    "api_products.list": ("products.read",),
    "api_products.get": ("products.read",),
    "api_products.create": ("products.read", "products.write"),
    "api_products.update": ("products.read", "products.write"),
    "api_products.adjust_stock": ("products.read", "stock.adjust"),
    "api_orders.list": ("orders.read",),
    "api_orders.get": ("orders.read",),
    "api_orders.create": ("orders.read", "orders.write"),
    "api_orders.approve": ("orders.read", "orders.approve"),
    "api_orders.reject": ("orders.read", "orders.approve"),
    "api_orders.ship": ("orders.read", "orders.fulfil"),
    "api_orders.deliver": ("orders.read", "orders.fulfil"),
    "api_orders.cancel": ("orders.read", "orders.cancel"),
    # Exports as jobs: the list's read permission and ``export``, as the Export menu.
    "api_jobs.export_orders": ("orders.read", "export"),
    "api_jobs.export_customers": ("customers.read", "export"),
    "api_jobs.export_products": ("products.read", "export"),
    # A job's state and result: any token, for its owner's own jobs (all: staff.manage).
    "api_jobs.get": SIGNED_IN,
    "api_jobs.result": SIGNED_IN,
}
"""API endpoint -> the permissions its token needs (tests/test_api_access.py)."""

ENDPOINTS.update(API_ENDPOINTS)

TRANSITIONS: dict[str, str] = {
    "approve": "orders.approve",
    "reject": "orders.approve",
    "ship": "orders.fulfil",
    "deliver": "orders.fulfil",
    "cancel": "orders.cancel",
}
"""Workflow transition -> the permission DESIGN.md names for it."""

ACTIONS: dict[str, dict[str, Needs]] = {
    "customer": {"delete": ("customers.delete",)},
    "product": {"delete": ("products.delete",), "adjust_stock": ("stock.adjust",)},
    "stock_movement": {"delete": NOBODY},
    "order_return": {"delete": NOBODY},
    "order": {
        "approve": (TRANSITIONS["approve"],),
        "reject": (TRANSITIONS["reject"],),
        "deliver": (TRANSITIONS["deliver"],),
        "cancel": (TRANSITIONS["cancel"],),
        # One PDF of the selected orders' packing slips: those who ship.
        "packing_slips": ("orders.fulfil",),
        "delete": NOBODY,
    },
    "pending_order": {
        "approve": (TRANSITIONS["approve"],),
        "reject": (TRANSITIONS["reject"],),
        # Pending orders are never shipped, so never delivered: the queue has no such action.
        "deliver": NOBODY,
        "cancel": (TRANSITIONS["cancel"],),
        "packing_slips": NOBODY,
        "delete": NOBODY,
    },
    "notification": {"resend": ("notifications.read",), "delete": NOBODY},
    "promotion": {"delete": NOBODY},
    "shipping_method": {"delete": NOBODY},
    "tax_rate": {"delete": NOBODY},
    "audit": {"delete": NOBODY},
    "staff_user": {
        "force_password_reset": ("staff.manage",),
        "reset_two_factor": ("staff.manage",),
        "resend_invitation": ("staff.manage",),
        "revoke_invitation": ("staff.manage",),
        "delete": NOBODY,
    },
    "role": {"delete": NOBODY},
    "webhook_endpoint": {"rotate_secret": ("staff.manage",), "delete": NOBODY},
    "webhook_delivery": {"resend": ("staff.manage",), "delete": NOBODY},
}
"""View endpoint -> list action -> the permissions it needs beyond the list's own."""


def allowed(role: str | None, *needs: Needs) -> bool:
    """Whether DESIGN.md lets ``role`` (None: anonymous) do what needs all of ``needs``."""
    if role is None or any(need is NOBODY for need in needs):
        return False
    wanted = {permission for need in needs for permission in need}
    return wanted <= DESIGN_PERMISSIONS[role]


REDIRECTING_ENDPOINTS = frozenset(
    {"saved_filters.save_view", "saved_filters.open_view", "saved_filters.delete_view"}
)
"""Endpoints served by a redirect to another view's page: a saved filter is saved,
opened and deleted from a list, and leads back to that list."""


def allowed_by(scope: tuple[str, ...], needs: Needs) -> bool:
    """Whether a token carrying exactly ``scope`` may use what needs ``needs``."""
    return needs is not NOBODY and set(needs) <= set(scope)


SCRIPT_ENDPOINTS = frozenset({"keepalive.index"})
"""Endpoints asked by the pages' scripts: a visitor not signed in gets 401 JSON there,
never the sign-in page."""

PUBLIC_BLUEPRINTS = frozenset({"security", "api-docs", "api_docs", "customer_page"})
"""Flask-Security-Too's pages (sign-in, reset, two-factor): they ask for sign-in
themselves where they need it; the API's OpenAPI document and its docs page (no data);
and the customer's order page, admitted by the signed link of an order e-mail (no
sign-in: customers have no account)."""

PUBLIC_ENDPOINTS = frozenset(
    {"static", "admin.static", "web.home", "web.status", "web.favicon", "invitations.accept"}
)
"""Endpoints anyone may open: static files, ``/`` (a redirect), the health check, and the
invitation page (its signed, one-time link admits the new staff member, as a reset link
does)."""
