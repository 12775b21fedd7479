"""The actions with a meaning across the console; services may record others."""

from __future__ import annotations

from flask_babel import LazyString, lazy_pgettext

CREATE, UPDATE, DELETE = "create", "update", "delete"
APPROVE, REJECT, SHIP, DELIVER, CANCEL = "approve", "reject", "ship", "deliver", "cancel"
LOGIN, LOGOUT, LOGIN_FAILED = "login", "logout", "login_failed"
PASSWORD_CHANGED, PASSWORD_RESET, TWO_FACTOR_CHANGED = (
    "password_changed",
    "password_reset",
    "2fa_changed",
)
EXPORT = "export"
ADJUST_STOCK = "adjust_stock"
REQUEST_RETURN, RECEIVE_RETURN, REFUND = "request_return", "receive_return", "refund"
INVITED, INVITATION_REVOKED, INVITATION_ACCEPTED = (
    "invited",
    "invitation_revoked",
    "invitation_accepted",
)

KNOWN_ACTIONS: tuple[str, ...] = (
    CREATE,
    UPDATE,
    DELETE,
    APPROVE,
    REJECT,
    SHIP,
    DELIVER,
    CANCEL,
    EXPORT,
    ADJUST_STOCK,
    REQUEST_RETURN,
    RECEIVE_RETURN,
    REFUND,
    LOGIN,
    LOGOUT,
    LOGIN_FAILED,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    TWO_FACTOR_CHANGED,
    INVITED,
    INVITATION_REVOKED,
    INVITATION_ACCEPTED,
)
"""Offered by the audit view's action filter, in this order."""

ACTION_LABELS: dict[str, LazyString] = {
    CREATE: lazy_pgettext("audit action", "Created"),
    UPDATE: lazy_pgettext("audit action", "Changed"),
    DELETE: lazy_pgettext("audit action", "Deleted"),
    APPROVE: lazy_pgettext("audit action", "Approved"),
    REJECT: lazy_pgettext("audit action", "Rejected"),
    SHIP: lazy_pgettext("audit action", "Shipped"),
    DELIVER: lazy_pgettext("audit action", "Delivered"),
    CANCEL: lazy_pgettext("audit action", "Cancelled"),
    EXPORT: lazy_pgettext("audit action", "Exported"),
    ADJUST_STOCK: lazy_pgettext("audit action", "Stock adjusted"),
    REQUEST_RETURN: lazy_pgettext("audit action", "Return requested"),
    RECEIVE_RETURN: lazy_pgettext("audit action", "Return received"),
    REFUND: lazy_pgettext("audit action", "Refunded"),
    LOGIN: lazy_pgettext("audit action", "Signed in"),
    LOGOUT: lazy_pgettext("audit action", "Signed out"),
    LOGIN_FAILED: lazy_pgettext("audit action", "Sign-in failed"),
    PASSWORD_CHANGED: lazy_pgettext("audit action", "Password changed"),
    PASSWORD_RESET: lazy_pgettext("audit action", "Password reset"),
    TWO_FACTOR_CHANGED: lazy_pgettext("audit action", "Two-factor sign-in changed"),
    INVITED: lazy_pgettext("audit action", "Invited"),
    INVITATION_REVOKED: lazy_pgettext("audit action", "Invitation revoked"),
    INVITATION_ACCEPTED: lazy_pgettext("audit action", "Invitation accepted"),
}
"""How each known action reads on pages, in the reader's language; the trail stores,
searches and exports the action itself."""


def action_label(action: str | None) -> str:
    """``action`` as a page shows it: its label, or for an action a service recorded
    under its own word, that word with spaces (``merge_customer`` reads "merge customer")."""
    if not action:
        return ""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action.replace("_", " ")
