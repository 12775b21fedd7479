"""Staff accounts and roles (Flask-Security-Too's typed SQLAlchemy models).

Passwords are hashed with bcrypt by Flask-Security-Too (``SECURITY_PASSWORD_HASH``);
a role's ``permissions`` list decides what its holders may do (``console.permissions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from flask_security.models import sqla as fsqla
from flask_security.models.sqla import AsaList
from sqlalchemy import BigInteger, String, Text
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec

if TYPE_CHECKING:
    from console.models.invitations import StaffInvitation

fsqla.FsModels.set_db_info(base_model=Model, user_table_name="staff_user", role_table_name="role")


class Role(fsqla.FsRoleMixin, Model):
    __tablename__ = "role"

    # Membership changes are recorded on the staff user ("roles"), not twice.
    __audit__ = AuditSpec("role", fields=("name", "description", "permissions"))

    def __str__(self) -> str:
        return self.name


SECRET_COLUMNS = ("password", "tf_totp_secret", "us_totp_secrets", "mf_recovery_codes")
"""The account's secrets: never read unless the code asks for them (see ``User``)."""


class User(fsqla.FsUserMixin, Model):
    __tablename__ = "staff_user"

    __listed_columns__ = ("id", "email")
    """What a list shows of a person (``str(user)``): all its join reads
    (``console.admin.base.list_load``)."""

    # Flask-Security-Too's columns, the same in the database, but deferred: a query for
    # people (the identity of each request, "Taken by" on a list, a note's author) leaves
    # the secrets in the database; the password hash and the authenticator secrets are
    # read, in one query, only when signing in or setting them up touches one of them.
    password: Mapped[str | None] = mapped_column(
        String(255), deferred=True, deferred_group="secrets"
    )
    tf_totp_secret: Mapped[str | None] = mapped_column(
        String(255), deferred=True, deferred_group="secrets"
    )
    us_totp_secrets: Mapped[str | None] = mapped_column(
        Text, deferred=True, deferred_group="secrets"
    )
    mf_recovery_codes: Mapped[list[str] | None] = mapped_column(
        MutableList.as_mutable(AsaList()), deferred=True, deferred_group="secrets"
    )

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    """Bumped by ``console.services.concurrency`` on each audited change (not on sign-in).

    Not SQLAlchemy's ``version_id_col``: every sign-in updates the row (login count,
    address), and two sign-ins at once must not fail; only changes a person makes to
    the account move the version that edit forms are checked against.
    """

    tf_totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    """Time step of the last authenticator code accepted: a code works once
    (``console.security.totp``)."""

    timezone: Mapped[str | None] = mapped_column(String(64))
    """The IANA zone the person reads times in (``Europe/Berlin``), chosen on their
    profile; None: the shop's (``console.localtime``)."""

    language: Mapped[str | None] = mapped_column(String(8))
    """The language the person reads the console in (``en``, ``de``, ``fr``), chosen on
    their profile; None: their browser's (``console.i18n``)."""

    invitation: Mapped[StaffInvitation | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    """The account's invitation, when it was created by invitation
    (``console.services.invitations``); loaded only when asked for."""

    # The columns come from Flask-Security-Too's mixin. Secrets are masked; the
    # uniquifier, the WebAuthn handle and the sign-in tracking columns are not recorded.
    __audit__ = AuditSpec(
        "staff_user",
        fields=(
            "email",
            "username",
            "active",
            "confirmed_at",
            "tf_primary_method",
            "tf_phone_number",
            "us_phone_number",
            "timezone",
            "language",
        ),
        collections=("roles",),
        masked=SECRET_COLUMNS,
    )

    def must_use_two_factor(self) -> bool:
        """True when a permission of this person's roles demands two-factor sign-in.

        ``CONSOLE_REQUIRE_2FA_PERMISSIONS`` names them (``staff.manage`` in production),
        so the rule follows what a person may do rather than a role's name.
        """
        required = current_app.config.get("CONSOLE_REQUIRE_2FA_PERMISSIONS") or []
        return any(self.has_permission(permission) for permission in required)

    def check_tf_required(self, tf_setup_methods, tf_fresh):
        """Flask-Security-Too's hook: add the per-permission requirement to its own."""
        required, methods = super().check_tf_required(tf_setup_methods, tf_fresh)
        if not required and self.must_use_two_factor():
            return True, methods
        return required, methods

    def check_tf_required_setup(self) -> bool:
        """Tell the set-up page that this person may not switch two-factor off."""
        return super().check_tf_required_setup() or self.must_use_two_factor()

    def __str__(self) -> str:
        return self.email
