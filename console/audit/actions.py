"""The actions with a meaning across the console; services may record others."""

from __future__ import annotations

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
