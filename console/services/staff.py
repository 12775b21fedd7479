"""Staff accounts and roles: the rules an administrator's changes must keep.

Every function takes the acting person explicitly, checks that they hold
``staff.manage``, makes its change in one transaction and refuses with a
``DomainError`` (changing nothing) when the change would break a rule:

- the console always keeps at least one active person holding ``staff.manage``
  (the last active administrator cannot be deactivated or lose the permission);
- an administrator cannot take ``staff.manage`` away from themselves.

Administrators are recognised by the permission, not by a role's name, so the rules
still hold when roles are renamed or their permissions edited.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import TypeVar, cast

from flask import current_app
from flask_babel import gettext
from flask_security import Security, hash_password
from flask_security.recoverable import send_reset_password_instructions
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.i18n import known_language
from console.models import Role, StaffInvitation, User
from console.permissions import ALL_PERMISSIONS, STAFF_MANAGE
from console.services import invitations
from console.services.errors import DomainError
from console.services.sessions import end_sessions

_T = TypeVar("_T")


def _accounts() -> Security:
    """The app's Flask-Security-Too: its datastore and password and mail utilities."""
    return current_app.extensions["security"]


def _require_manager(actor: User) -> None:
    if actor is None or not actor.is_active or not actor.has_permission(STAFF_MANAGE):
        raise DomainError(
            gettext("Only an administrator (staff.manage) can change staff accounts.")
        )


def _active_admins(session: Session) -> list[User]:
    session.flush()
    users = session.scalars(select(User).where(User.active.is_(True)))
    return [user for user in users if user.has_permission(STAFF_MANAGE)]


def _check_admin_guards(session: Session, actor: User, actor_was_admin: bool) -> None:
    """Refuse a change that leaves no active admin or removes the actor's own rights."""
    admins = _active_admins(session)
    if actor_was_admin and actor not in admins:
        raise DomainError(
            gettext(
                "You cannot remove your own administrator rights (staff.manage) or deactivate "
                "your own account; ask another administrator."
            )
        )
    if not admins:
        raise DomainError(
            gettext(
                "This change would leave no active administrator (nobody holding "
                "staff.manage). Give another active account the admin role first."
            )
        )


def _run(session: Session, actor: User, change: Callable[[], _T]) -> _T:
    """Apply ``change`` in one transaction, keeping the admin guards; return its result."""
    _require_manager(actor)
    was_admin = actor.has_permission(STAFF_MANAGE)
    try:
        result = change()
        _check_admin_guards(session, actor, was_admin)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result


def _known_roles(session: Session, roles: Iterable[Role]) -> list[Role]:
    roles = list(roles or [])
    for role in roles:
        if session.get(Role, role.id) is None:
            raise DomainError(gettext("Role %(name)s does not exist.", name=repr(role.name)))
    return roles


NO_ROLE = "Choose at least one role: an account without one can open nothing."


def create_staff(
    session: Session,
    actor: User,
    *,
    email: str,
    roles: Iterable[Role],
    language: str | None = None,
) -> User:
    """A new staff account, invited by e-mail to choose its own password.

    ``language``: the account's language (its invitation e-mail is written in it); one
    the console does not speak, or none, leaves the shop's.

    The account has no password and stays inactive until its person opens the
    invitation link and chooses one (``console.services.invitations``); it holds at
    least one role. The invitation e-mail joins the outbox in the same transaction.
    """
    _require_manager(actor)
    try:
        email = _accounts().mail_util.validate((email or "").strip())
    except ValueError as exc:
        raise DomainError(gettext("Enter a valid e-mail address (%(exc)s).", exc=exc)) from exc
    if _accounts().datastore.find_user(email=email) is not None:
        raise DomainError(gettext("A staff account for %(email)s already exists.", email=email))
    roles = _known_roles(session, roles)
    if not roles:
        raise DomainError(NO_ROLE)

    def change() -> User:
        # The datastore is typed with Flask-Security's mixins; it was built on ``User``.
        user = cast(
            User,
            _accounts().datastore.create_user(
                email=email,
                password=None,
                active=False,
                roles=roles,
                language=known_language(language),
            ),
        )
        invitations.issue(session, actor, user)
        return user

    return _run(session, actor, change)


def resend_invitation(session: Session, actor: User, user: User) -> StaffInvitation:
    """Send ``user`` a new invitation link; the earlier one stops working.

    Also after a revocation or an expiry; refused once the person chose a password.
    """
    if not invitations.is_awaited(user):
        raise DomainError(
            gettext(
                "%(email)s was not invited or has already chosen a password; there is no "
                "invitation to send.",
                email=user.email,
            )
        )
    return _run(session, actor, lambda: invitations.issue(session, actor, user))


def revoke_invitation(session: Session, actor: User, user: User) -> None:
    """Make ``user``'s invitation link stop working; the account stays unusable.

    The invitation can be sent again later (``resend_invitation``).
    """
    _run(session, actor, lambda: invitations.withdraw(session, actor, user))


def _refuse_while_invited(user: User, what: str) -> None:
    if invitations.is_awaited(user):
        raise DomainError(
            gettext(
                "%(email)s has not accepted the invitation yet, so %(what)s: the account becomes "
                "active when they choose their password. Resend the invitation if they need a new "
                "link.",
                email=user.email,
                what=what,
            )
        )


def update_staff(
    session: Session,
    actor: User,
    user: User,
    *,
    active: bool,
    roles: Iterable[Role],
    keep_session: str | None = None,
) -> None:
    """Activate or deactivate ``user`` and set their roles.

    Deactivation ends every session of the person; a change of roles ends them too, so
    that the person signs in again (with a second factor, if the new roles need one).
    ``keep_session``: the key of the acting administrator's own session, kept when they
    change their own roles.
    """
    _require_manager(actor)
    roles = _known_roles(session, roles)
    if active and not user.active:
        _refuse_while_invited(user, "it cannot be activated")

    def change() -> None:
        if user.active and not active:
            # Signs the person out of every session at once.
            _accounts().datastore.set_uniquifier(user)
            end_sessions(session, user)
        elif {role.id for role in user.roles} != {role.id for role in roles}:
            end_sessions(session, user, keep=keep_session if user.id == actor.id else None)
        user.active = bool(active)
        user.roles = roles

    _run(session, actor, change)


def force_password_reset(session: Session, actor: User, user: User) -> None:
    """Make ``user`` choose a new password: the old one stops working at once.

    The password becomes a random one nobody knows, every session of the person ends,
    and they receive the reset e-mail to choose their own.
    """
    _require_manager(actor)
    _refuse_while_invited(user, "it has no password to reset")

    def change() -> None:
        user.password = hash_password(secrets.token_urlsafe(32))
        _accounts().datastore.set_uniquifier(user)
        end_sessions(session, user)

    _run(session, actor, change)
    send_reset_password_instructions(user)


def reset_two_factor(session: Session, actor: User, user: User) -> None:
    """Switch off ``user``'s two-factor sign-in (a lost phone) and end their sessions.

    They sign in with their password next time and set up an authenticator again
    (at once, when their permissions require two-factor sign-in).
    """

    def change() -> None:
        user.tf_primary_method = None
        user.tf_totp_secret = None
        _accounts().datastore.set_uniquifier(user)
        end_sessions(session, user)

    _run(session, actor, change)


def set_role_permissions(
    session: Session,
    actor: User,
    role: Role,
    permissions: Iterable[str],
    *,
    description: str | None = None,
) -> None:
    """Replace ``role``'s permissions with ``permissions`` (known names only)."""
    wanted = sorted(set(permissions or []))
    unknown = [name for name in wanted if name not in ALL_PERMISSIONS]
    if unknown:
        raise DomainError(gettext("Unknown permission(s): %(join)s.", join=", ".join(unknown)))

    def change() -> None:
        role.permissions = wanted
        if description is not None:
            role.description = description.strip() or None

    _run(session, actor, change)


def create_role(
    session: Session, actor: User, *, name: str, description: str | None, permissions
) -> Role:
    """A new role with ``permissions``."""
    name = (name or "").strip().lower()
    if not name:
        raise DomainError(gettext("Enter a role name."))
    if _accounts().datastore.find_role(name) is not None:
        raise DomainError(gettext("A role named %(name)s already exists.", name=repr(name)))
    wanted = sorted(set(permissions or []))
    unknown = [p for p in wanted if p not in ALL_PERMISSIONS]
    if unknown:
        raise DomainError(gettext("Unknown permission(s): %(join)s.", join=", ".join(unknown)))

    def change() -> Role:
        # The datastore is typed with Flask-Security's mixins; it was built on ``Role``.
        return cast(
            Role,
            _accounts().datastore.create_role(
                name=name, description=(description or "").strip() or None, permissions=wanted
            ),
        )

    return _run(session, actor, change)
