"""Who caused an event and where from: the one place the audit trail reads the request.

Services never look at the request: they pass the acting person to
``console.audit.record``. The automatic capture, which runs inside a flush, asks this
module instead: the signed-in person of the current request (else the system), the
client's address, and the request id shared with the logs (``console.request_id``).
Outside a request (CLI, seed, jobs) the actor is the system and there is no address or
request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from console.models.audit import ANONYMOUS_ACTOR, SYSTEM_ACTOR
from console.request_id import request_id


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a staff member, the system, a customer, or someone not signed in.

    Staff members have an ``id``; the others are a label in ``email`` only.
    """

    id: int | None
    email: str

    @classmethod
    def of(cls, actor: Any) -> Actor:
        """``actor`` as given to ``record``: a staff user, an ``Actor``, a label or None."""
        if isinstance(actor, Actor):
            return actor
        if actor is None:
            return SYSTEM
        if isinstance(actor, str):
            return cls(None, actor)
        return cls(getattr(actor, "id", None), getattr(actor, "email", None) or str(actor))

    @classmethod
    def customer(cls, email: str) -> Actor:
        """A customer acting without an account (their order page): ``customer <email>``."""
        return cls(None, f"{CUSTOMER_ACTOR_PREFIX}{email}"[:255])


CUSTOMER_ACTOR_PREFIX = "customer "
"""``actor_email`` of a customer's own actions starts with this, then their e-mail."""

SYSTEM = Actor(None, SYSTEM_ACTOR)
ANONYMOUS = Actor(None, ANONYMOUS_ACTOR)


@dataclass(frozen=True)
class EventContext:
    """Where an event comes from: the client's address and the request id."""

    client_addr: str | None = None
    request_id: str | None = None


NO_REQUEST = EventContext()
"""The context of events recorded outside a request (CLI, seed, jobs)."""


def current_actor() -> Actor:
    """The signed-in person of the current request, else the system."""
    if not has_request_context():
        return SYSTEM
    if current_user and current_user.is_authenticated:
        return Actor(current_user.id, current_user.email)
    return SYSTEM


def current_context() -> EventContext:
    """The current request's client address and id; ``NO_REQUEST`` outside a request."""
    if not has_request_context():
        return NO_REQUEST
    return EventContext(client_addr=request.remote_addr, request_id=request_id())


def request_notes() -> dict[str, Any]:
    """Notes the audit code keeps about the current request (a throwaway dict outside one).

    Kept in the WSGI environ, not in ``g``: ``g`` belongs to the app context, which a
    test or a streamed response may keep across several requests.
    """
    if not has_request_context():
        return {}
    return request.environ.setdefault("console.audit", {})


def sign_in_attempt(endpoint: str) -> str | None:
    """The e-mail typed into a sign-in form this request posted to ``endpoint``, if any.

    None unless the request is a POST to ``endpoint`` with an e-mail and a password: an
    empty form is not a sign-in attempt.
    """
    if not has_request_context() or request.endpoint != endpoint or request.method != "POST":
        return None
    email = request.form.get("email", "")
    if not email.strip() or not request.form.get("password"):
        return None
    return email
