"""Staff accounts and roles (Flask-Security-Too's typed SQLAlchemy models).

Passwords are hashed with bcrypt by Flask-Security-Too (``SECURITY_PASSWORD_HASH``);
a role's ``permissions`` list decides what its holders may do (``console.permissions``).
"""

from __future__ import annotations

from flask_security.models import sqla as fsqla
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db

fsqla.FsModels.set_db_info(
    base_model=db.Model, user_table_name="staff_user", role_table_name="role"
)


class Role(fsqla.FsRoleMixin, db.Model):
    __tablename__ = "role"

    def __str__(self) -> str:
        return self.name


class User(fsqla.FsUserMixin, db.Model):
    __tablename__ = "staff_user"

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    """Bumped by ``console.services.concurrency`` on each audited change (not on sign-in).

    Not SQLAlchemy's ``version_id_col``: every sign-in updates the row (login count,
    address), and two sign-ins at once must not fail; only changes a person makes to
    the account move the version that edit forms are checked against.
    """

    def __str__(self) -> str:
        return self.email
