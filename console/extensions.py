"""Extensions, created unbound here and bound to an app in ``create_app``.

``Admin`` is deliberately absent: it keeps per-app state (views, blueprints), so the
factory builds a fresh one for every app (see ``console.admin.init_admin``).
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_security import Security
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from console.security_mail import ConsoleMailUtil

# Stable constraint names, so that migrations can alter and drop them on every backend
# (SQLite's batch mode needs names to find them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model of the console."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
mail = Mail()
security = Security(mail_util_cls=ConsoleMailUtil)
csrf = CSRFProtect()
# Storage comes from RATELIMIT_STORAGE_URI (memory, or Redis when REDIS_URL is set);
# only the sign-in endpoints carry limits (see console.security).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
