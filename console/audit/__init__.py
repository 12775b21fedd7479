"""The audit trail: who changed which record, when, from where, from what to what.

What each model records is declared on the model (``__audit__ = AuditSpec(...)``, see
``console.models.audit_spec``); this package captures it:

- ``spec``: the registry of audited models and the start-up check of their specs;
- ``context``: who acts and where from, the one place that reads the request;
- ``capture``: the event buffer, the field-level diff and the session hooks
  (attached by ``console.session_hooks``);
- ``signals``: sign-ins, sign-outs, refused sign-ins, password and 2FA changes;
- ``queries``: questions asked of the trail (who deleted a record).

Services use the API below (``from console import audit``) and pass the acting
person explicitly; they never read the request.
"""

from __future__ import annotations

from console.audit.actions import (
    ACTION_LABELS,
    ADJUST_STOCK,
    APPROVE,
    CANCEL,
    CREATE,
    DELETE,
    DELIVER,
    EXPORT,
    INVITATION_ACCEPTED,
    INVITATION_REVOKED,
    INVITED,
    KNOWN_ACTIONS,
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    RECEIVE_RETURN,
    REFUND,
    REJECT,
    REQUEST_RETURN,
    SHIP,
    TWO_FACTOR_CHANGED,
    UPDATE,
    action_label,
)
from console.audit.capture import REDACTED, Written, acting, record, record_written
from console.audit.context import ANONYMOUS, SYSTEM, Actor, EventContext
from console.audit.queries import deletion_of, events_of
from console.audit.spec import (
    RECORD_TYPES,
    SECRET_NAME,
    SPECS,
    AuditSpec,
    check_specs,
    record_type_of,
    spec_for,
)

__all__ = [
    "ADJUST_STOCK",
    "RECEIVE_RETURN",
    "REFUND",
    "REQUEST_RETURN",
    "ACTION_LABELS",
    "action_label",
    "ANONYMOUS",
    "APPROVE",
    "CANCEL",
    "CREATE",
    "DELETE",
    "DELIVER",
    "EXPORT",
    "INVITATION_ACCEPTED",
    "INVITATION_REVOKED",
    "INVITED",
    "KNOWN_ACTIONS",
    "LOGIN",
    "LOGIN_FAILED",
    "LOGOUT",
    "PASSWORD_CHANGED",
    "PASSWORD_RESET",
    "RECORD_TYPES",
    "REDACTED",
    "REJECT",
    "SECRET_NAME",
    "SHIP",
    "SPECS",
    "SYSTEM",
    "TWO_FACTOR_CHANGED",
    "UPDATE",
    "Actor",
    "acting",
    "AuditSpec",
    "EventContext",
    "check_specs",
    "deletion_of",
    "events_of",
    "record",
    "record_written",
    "Written",
    "record_type_of",
    "spec_for",
]
