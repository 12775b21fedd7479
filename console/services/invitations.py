"""Invitations to new staff accounts: issue, withdraw, check and accept the link.

A new account has no password and stays inactive until its person opens the link of
their invitation e-mail and chooses a password there. The link's token is signed with
the app's secret under its own salt (as Flask-Security-Too signs reset links) and
carries the invitation's id and a random nonce. The row keeps only the nonce's SHA-256,
so the link works while that hash is there and unchanged:

- choosing the password clears it (the link works once);
- revoking clears it; sending again replaces it (every earlier link stops working);
- the link also stops at ``expires_at`` (``CONSOLE_INVITATION_VALIDITY`` after sending).

The mail goes through the outbox in the transaction that issues the link, like every
other e-mail; it is filed as sign-in mail (``security/...``), whose content the
Notifications view hides from its readers. Links are built from ``CONSOLE_BASE_URL``.

``console.services.staff`` decides who may invite, resend and revoke; this module does
the mechanics and the anonymous side (checking and accepting a link).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_security import hash_password
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session

from console import audit
from console.database import rowcount
from console.i18n import writing_for
from console.models import StaffInvitation, User
from console.models.base import utcnow
from console.security.links import external_url
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.notifications import (
    SECURITY_TEMPLATE_PREFIX,
    enqueue_rendered,
    render_email,
)

SALT = "console-staff-invitation"
"""Signing salt of invitation tokens: no other signed value of the app is one."""

TEMPLATE = "staff_invitation"
"""``templates/email/staff_invitation.txt`` and ``.html``."""

ENDPOINT = "invitations.accept"
"""The page the link opens (``console.security.invitations``)."""

MAX_TOKEN_LENGTH = 512
"""Longer text is no token of ours; it is refused before any decoding."""

INVALID, EXPIRED, USED, REVOKED, REPLACED = "invalid", "expired", "used", "revoked", "replaced"

ASK_AGAIN = "Ask an administrator to resend the invitation."

REFUSALS: dict[str, str] = {
    INVALID: "This invitation link is not valid; it may have been cut short when it was "
    "copied. Open the link from the e-mail again. " + ASK_AGAIN,
    EXPIRED: "This invitation has expired. " + ASK_AGAIN + " The new e-mail has a fresh link.",
    USED: "This invitation has already been used and the account's password is set. Sign in "
    "with it, or use \u201cForgot password\u201d on the sign-in page if it is lost.",
    REVOKED: "This invitation was withdrawn by an administrator, so the link no longer works. "
    + ASK_AGAIN,
    REPLACED: "A newer invitation was sent for this account, so this link no longer works. "
    "Use the link in the latest e-mail. " + ASK_AGAIN,
}
"""What the person who opened a dead link reads, by reason."""


class InvitationRefused(DomainError):
    """The link cannot be used; ``reason`` is one of ``REFUSALS``' keys."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSALS[reason])
        self.reason = reason


class PasswordRefused(DomainError):
    """The chosen password breaks the configured rules; ``problems`` says which."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def is_awaited(user: User) -> bool:
    """True while ``user`` was invited and has not chosen a password yet."""
    invitation = user.invitation
    return invitation is not None and invitation.accepted_at is None


def issue(session: Session, actor: User, user: User) -> StaffInvitation:
    """Send ``user`` a new link, in ``session``'s transaction (the caller commits).

    A first invitation creates the row; a resend gives it a new nonce and new dates,
    so the earlier link stops working. The e-mail joins the outbox in the same
    transaction and is audited as ``invited`` on the account.
    """
    now = utcnow()
    nonce = secrets.token_urlsafe(32)
    invitation = user.invitation
    again = invitation is not None
    if invitation is None:
        invitation = StaffInvitation(user=user, expires_at=now)
        session.add(invitation)
    invitation.nonce_hash = _hash(nonce)
    invitation.sent_at = now
    invitation.expires_at = now + current_app.config["CONSOLE_INVITATION_VALIDITY"]
    invitation.revoked_at = None
    session.flush()  # the id the token names
    token = _serializer().dumps({"i": invitation.id, "n": nonce})
    context: dict[str, Any] = {
        "email": user.email,
        "link": external_url(ENDPOINT, token=token),
        "expires_at": invitation.expires_at,
        "invited_by": actor.email,
        "console_name": current_app.config["CONSOLE_NAME"],
    }
    # In the language the administrator chose for the new account, else the shop's; its
    # expiry in the account's zone, else the shop's (never the sender's).
    with writing_for(user):
        text, html = render_email(TEMPLATE, context)
        subject = gettext(
            "Your account on %(console)s: choose your password",
            console=current_app.config["CONSOLE_NAME"],
        )
    enqueue_rendered(
        session,
        user.email,
        subject,
        text,
        html,
        template=SECURITY_TEMPLATE_PREFIX + TEMPLATE,
    )
    audit.record(
        session,
        actor,
        audit.INVITED,
        user,
        note=(
            "Invitation sent again; earlier links no longer work." if again else "Invitation sent."
        )
        + f" The link works until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
    )
    return invitation


def withdraw(session: Session, actor: User, user: User) -> None:
    """Make ``user``'s live link stop working (the caller commits)."""
    invitation = user.invitation
    if invitation is None or not invitation.is_pending:
        raise DomainError(
            gettext("%(email)s has no invitation waiting to be accepted.", email=user.email)
        )
    invitation.nonce_hash = None
    invitation.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        audit.INVITATION_REVOKED,
        user,
        note="Invitation revoked: its link no longer works; it can be sent again.",
    )


def _decode(token: str) -> tuple[int, str]:
    """The invitation id and nonce a token carries; ``InvitationRefused`` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvitationRefused(INVALID)
    max_age = current_app.config["CONSOLE_INVITATION_VALIDITY"].total_seconds()
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvitationRefused(EXPIRED) from None
    except BadData:
        raise InvitationRefused(INVALID) from None
    number = row_id(data.get("i")) if isinstance(data, dict) else None
    nonce = data.get("n") if isinstance(data, dict) else None
    if number is None or not isinstance(nonce, str) or not nonce:
        raise InvitationRefused(INVALID)
    return number, nonce


def check(session: Session, token: str) -> StaffInvitation:
    """The invitation ``token`` opens, while its link still works.

    Raises ``InvitationRefused`` saying why not: used, revoked, replaced by a newer
    link, expired, or not a link of ours at all.
    """
    number, nonce = _decode(token)
    invitation = session.get(StaffInvitation, number)
    if invitation is None:
        raise InvitationRefused(INVALID)
    if invitation.accepted_at is not None:
        raise InvitationRefused(USED)
    if invitation.nonce_hash is None:
        raise InvitationRefused(REVOKED)
    if not hmac.compare_digest(invitation.nonce_hash, _hash(nonce)):
        raise InvitationRefused(REPLACED)
    if invitation.is_expired(utcnow()):
        raise InvitationRefused(EXPIRED)
    return invitation


def accept(session: Session, token: str, password: str) -> User:
    """Set the invited person's password and activate the account; the link dies.

    The password must pass Flask-Security-Too's configured rules (length, strength,
    breach check), as on its password change form; it is stored as a hash only. One
    conditional UPDATE claims the link, so two submissions at once cannot both use it.
    Commits; raises ``InvitationRefused`` or ``PasswordRefused`` having changed nothing.
    """
    try:
        invitation = check(session, token)
        user = invitation.user
        security = current_app.extensions["security"]
        problems, normalized = security.password_util.validate(password or "", False, user=user)
        if problems:
            raise PasswordRefused([str(problem) for problem in problems])
        now = utcnow()
        claimed = session.execute(
            update(StaffInvitation)
            .where(
                StaffInvitation.id == invitation.id,
                StaffInvitation.nonce_hash == invitation.nonce_hash,
                StaffInvitation.accepted_at.is_(None),
                StaffInvitation.expires_at > now,
            )
            .values(nonce_hash=None, accepted_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(claimed) != 1:
            # Used, revoked or resent between the check and now: say which.
            session.rollback()
            check(session, token)
            raise InvitationRefused(USED)
        session.expire(invitation)
        user.password = hash_password(normalized)
        user.active = True
        audit.record(
            session,
            user,
            audit.INVITATION_ACCEPTED,
            user,
            note="Invitation accepted: password chosen, account active.",
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return user
