"""API tokens: made by staff managers, shown once, stored as a hash, revocable.

A token acts as its owner, within its own permissions: a request needs the permission
on the token and still among the owner's (a role taken away since, or a deactivated
account, closes the token's use of it at once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console.models import ApiToken, User
from console.models.base import utcnow
from console.permissions import ALL_PERMISSIONS, STAFF_MANAGE
from console.services.errors import DomainError

SECRET_PREFIX = "bo_"
"""Every secret starts with it, so that scanners can find a token pasted by mistake."""

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (not one write per request)."""


def hash_secret(secret: str) -> str:
    """SHA-256 of a token's secret (why not bcrypt: see ``console.models.api``)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(
    session: Session,
    actor: User,
    owner: User,
    name: str,
    permissions: Iterable[str],
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for ``owner``; returns it and its secret (shown once, never stored).

    Only staff managers make tokens; the permissions must be the owner's own.
    """
    if not actor.has_permission(STAFF_MANAGE):
        raise DomainError(gettext("Your role does not allow managing API tokens."))
    name = (name or "").strip()
    if not name:
        raise DomainError(gettext("Give the token a name that says what uses it."))
    if len(name) > 100:
        raise DomainError(gettext("The name is too long (at most 100 characters)."))
    wanted = sorted(set(permissions))
    unknown = [p for p in wanted if p not in ALL_PERMISSIONS]
    if unknown:
        raise DomainError(gettext("Unknown permissions: %(join)s.", join=", ".join(unknown)))
    if not owner.active:
        raise DomainError(gettext("%(email)s's account is not active.", email=owner.email))
    beyond = [p for p in wanted if not owner.has_permission(p)]
    if beyond:
        raise DomainError(
            gettext(
                "%(email)s does not hold %(join)s; a token can only have permissions its owner "
                "has.",
                email=owner.email,
                join=", ".join(beyond),
            )
        )
    if expires_at is not None and expires_at <= utcnow():
        raise DomainError(gettext("The expiry must be in the future."))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        owner=owner,
        token_hash=hash_secret(secret),
        prefix=secret[:10],
        permissions=",".join(wanted),
        expires_at=expires_at,
        created_by=actor,
    )
    session.add(token)
    session.flush()
    return token, secret


def revoke(session: Session, actor: User, token: ApiToken) -> None:
    """Revoke ``token`` from now on (kept for the audit trail, never used again)."""
    if not actor.has_permission(STAFF_MANAGE):
        raise DomainError(gettext("Your role does not allow managing API tokens."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def authenticate(session: Session, secret: str, now: dt.datetime | None = None) -> ApiToken | None:
    """The usable token whose secret is ``secret``, or None (unknown, revoked, expired,
    owner inactive). Notes when it was last used, at most once a minute."""
    if not secret or len(secret) > 200:
        return None
    now = now or utcnow()
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A plain UPDATE outside the audited flush: usage is not a change of the token.
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return token


def grants(token: ApiToken, permission: str) -> bool:
    """True when ``token`` may use ``permission``: on the token and still the owner's."""
    return permission in token.permission_list and token.owner.has_permission(permission)
