"""Configuration of the console, read from environment variables.

``CONSOLE_CONFIG`` picks one of ``development`` (the default), ``testing`` or
``production``. Every setting an operator may change is read from the environment when
the configuration object is built, so that tests and ``create_app`` see the values in
force at that moment rather than those at import time.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Development-only signing secrets. Production refuses to start with either of them.
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"
DEV_PASSWORD_SALT = "dev-only-password-salt-do-not-use-in-production"
DEV_TOTP_SECRET = "dev-only-totp-secret-do-not-use-in-production"


def _env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" mean yes)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    """Read an integer environment variable, failing loudly on a typo."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {value!r}") from exc


def _env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable as a list (empty text: empty list)."""
    value = os.environ.get(name)
    if value is None:
        value = default
    return [item.strip() for item in value.split(",") if item.strip()]


def default_database_url() -> str:
    """The embedded default: a SQLite file under ``instance/``."""
    return f"sqlite:///{INSTANCE_DIR / 'console.sqlite3'}"


class BaseConfig:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEFAULT_REQUIRE_2FA_PERMISSIONS = ""

    def __init__(self) -> None:
        self.SECRET_KEY: str | None = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
        self.SECURITY_PASSWORD_SALT: str | None = (
            os.environ.get("SECURITY_PASSWORD_SALT") or DEV_PASSWORD_SALT
        )
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or default_database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}

        # Mail: with no MAIL_SERVER the console keeps messages in its outbox only.
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
        self.MAIL_PORT = _env_int("MAIL_PORT", 25)
        self.MAIL_USE_TLS = _env_bool("MAIL_USE_TLS")
        self.MAIL_USE_SSL = _env_bool("MAIL_USE_SSL")
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        # Seconds before a silent SMTP relay counts as a failed attempt.
        self.MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 30)
        self.MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or "shop@localhost"
        self.REDIS_URL = os.environ.get("REDIS_URL") or None

        # Number of proxies (load balancers) in front of the app whose X-Forwarded-For /
        # -Proto / -Host headers are trusted; 0 trusts none. Rate limits and session
        # protection need the real client address.
        self.PROXY_COUNT = _env_int("PROXY_COUNT", 0)

        # Logging (console/logs.py) and error reporting.
        self.LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT") or "console"
        self.LOG_FILE = os.environ.get("LOG_FILE") or None
        self.SENTRY_DSN = os.environ.get("SENTRY_DSN") or None

        # Two-factor sign-in: the key that encrypts each person's TOTP secret at rest.
        self.SECURITY_TOTP_SECRETS = {
            "1": os.environ.get("SECURITY_TOTP_SECRET") or DEV_TOTP_SECRET
        }
        # Holders of any of these permissions must sign in with a second factor.
        # Empty under development and testing so the demo accounts use a password only.
        self.CONSOLE_REQUIRE_2FA_PERMISSIONS = _env_list(
            "CONSOLE_REQUIRE_2FA_PERMISSIONS", self.DEFAULT_REQUIRE_2FA_PERMISSIONS
        )

        # Brute-force limits on sign-in (Flask-Limiter rate strings). A failed
        # attempt counts against both the address and the account it names.
        # Storage of the counters: Redis when REDIS_URL is set, so that several hosts
        # share them, else in-process memory (``derive_defaults``).
        self.RATELIMIT_STORAGE_URI: str | None = os.environ.get("RATELIMIT_STORAGE_URI") or None
        # A moving window: a burst straddling a window boundary gets no extra tries.
        self.RATELIMIT_STRATEGY = "moving-window"
        self.RATELIMIT_HEADERS_ENABLED = True
        self.CONSOLE_LOGIN_LIMIT_PER_ACCOUNT = (
            os.environ.get("CONSOLE_LOGIN_LIMIT_PER_ACCOUNT") or "5 per 5 minutes"
        )
        self.CONSOLE_LOGIN_LIMIT_PER_ADDRESS = (
            os.environ.get("CONSOLE_LOGIN_LIMIT_PER_ADDRESS") or "30 per 5 minutes"
        )

        # Idle timeout: a signed-in session ends this long after its last request.
        self.CONSOLE_IDLE_TIMEOUT = dt.timedelta(
            minutes=_env_int("CONSOLE_IDLE_TIMEOUT_MINUTES", 30)
        )
        # Re-authentication before staff changes: a sign-in older than this asks for
        # the password again.
        self.CONSOLE_STAFF_FRESHNESS = dt.timedelta(
            minutes=_env_int("CONSOLE_STAFF_FRESHNESS_MINUTES", 15)
        )

        self.CONSOLE_NAME = os.environ.get("CONSOLE_NAME") or "Back Office"
        self.CONSOLE_CURRENCY = os.environ.get("CONSOLE_CURRENCY") or "EUR"
        # Products at or below this many units are listed on the dashboard.
        self.LOW_STOCK_THRESHOLD = _env_int("LOW_STOCK_THRESHOLD", 5)
        # Four-eyes rule: nobody approves an order they created.
        self.ORDERS_FOUR_EYES = _env_bool("ORDERS_FOUR_EYES", True)

        # Outbox delivery (console.notify). A failed attempt is retried after
        # base * 2**(attempts-1) seconds, capped; after max attempts the message is
        # marked failed and stays visible in the console until someone resends it.
        self.OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
        self.OUTBOX_RETRY_BASE_SECONDS = _env_int("OUTBOX_RETRY_BASE_SECONDS", 30)
        self.OUTBOX_RETRY_MAX_SECONDS = _env_int("OUTBOX_RETRY_MAX_SECONDS", 3600)
        self.OUTBOX_BATCH_SIZE = _env_int("OUTBOX_BATCH_SIZE", 50)
        self.OUTBOX_POLL_SECONDS = _env_int("OUTBOX_POLL_SECONDS", 5)
        # A claim older than this belongs to a dispatcher that died mid-send; the
        # message becomes claimable again.
        self.OUTBOX_CLAIM_TIMEOUT_SECONDS = _env_int("OUTBOX_CLAIM_TIMEOUT_SECONDS", 300)
        # /status flags delivery as stalled when a due message has waited this long.
        self.OUTBOX_STALLED_SECONDS = _env_int("OUTBOX_STALLED_SECONDS", 900)
        # In-process delivery thread: None decides by itself (on when MAIL_SERVER is
        # set, REDIS_URL is not, and the app is not under test).
        self.OUTBOX_IN_PROCESS: bool | None = None
        self.OUTBOX_RQ_QUEUE = os.environ.get("OUTBOX_RQ_QUEUE") or "outbox"
        self.SHOP_NAME = os.environ.get("SHOP_NAME") or "Our shop"

    # Flask-Security-Too
    SECURITY_PASSWORD_HASH = "bcrypt"
    SECURITY_REGISTERABLE = False
    SECURITY_RECOVERABLE = True
    SECURITY_CHANGEABLE = True
    SECURITY_TRACKABLE = True
    SECURITY_POST_LOGIN_VIEW = "/admin/"
    SECURITY_POST_LOGOUT_VIEW = "/login"
    SECURITY_EMAIL_VALIDATOR_ARGS = {"check_deliverability": False}
    SECURITY_SEND_REGISTER_EMAIL = False
    # Password strength: at least 12 characters and a zxcvbn score of 3 (of 4), so
    # that "Password123!" style choices are refused with an explanation.
    SECURITY_PASSWORD_LENGTH_MIN = 12
    SECURITY_PASSWORD_COMPLEXITY_CHECKER = "zxcvbn"
    SECURITY_ZXCVBN_MINIMUM_SCORE = 3
    # Same answer for an unknown account and a wrong password (login and reset), so
    # that the forms do not tell who has an account.
    SECURITY_RETURN_GENERIC_RESPONSES = True
    SECURITY_FLASH_MESSAGES = True
    # A password change or admin reset signs the person out of every other session.
    SECURITY_SEND_PASSWORD_CHANGE_EMAIL = True
    SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL = True
    SECURITY_RESET_PASSWORD_WITHIN = dt.timedelta(hours=2)
    # Two-factor sign-in with an authenticator app (TOTP), open to every staff member.
    SECURITY_TWO_FACTOR = True
    SECURITY_TWO_FACTOR_ENABLED_METHODS = ["authenticator"]
    SECURITY_TWO_FACTOR_REQUIRED = False
    SECURITY_TWO_FACTOR_ALWAYS_VALIDATE = True
    SECURITY_TOTP_ISSUER = "Back Office"
    SECURITY_TWO_FACTOR_POST_SETUP_VIEW = "/admin/"
    # Flask-Login's strong protection: a session used from another address or browser
    # is dropped. It only applies to non-permanent sessions, so the session cookie
    # stays a browser-session cookie and the idle timeout is kept in the session
    # (console.security.sessions).
    SESSION_PROTECTION = "strong"
    SECURITY_EMAIL_SUBJECT_PASSWORD_RESET = "Reset your Back Office password"

    # Forms: CSRF on everywhere. A form left open all day must still save, so the
    # token lives as long as the signed session instead of one hour.
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Subjects of the customer e-mails (templates/email/<name>.txt and .html);
    # ``{number}`` and ``{shop}`` are filled in.
    ORDER_EMAIL_SUBJECTS = {
        "order_received": "{shop}: we received your order {number}",
        "order_approved": "{shop}: your order {number} is confirmed",
        "order_rejected": "{shop}: we cannot fulfil your order {number}",
        "order_shipped": "{shop}: your order {number} is on its way",
        "order_cancelled": "{shop}: your order {number} was cancelled",
    }

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    FLASK_ADMIN_SWATCH = "cerulean"
    # Lists of the big tables skip the full count; see console/admin/base.py.
    ADMIN_PAGE_SIZE = 25


class DevelopmentConfig(BaseConfig):
    """The embedded default: SQLite, no SMTP relay, demo data."""

    ENV_NAME = "development"
    DEBUG = False


class TestingConfig(BaseConfig):
    """Used by the test suite; each test passes its own DATABASE_URL."""

    ENV_NAME = "testing"
    TESTING = True
    # Hashing with bcrypt's full cost makes every login in the suite slow; tests
    # still hash with bcrypt, at the lowest cost it accepts.
    SECURITY_PASSWORD_HASH = "bcrypt"
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS = {"bcrypt__rounds": 4}
    # Test accounts live under the reserved ".test" domain, which e-mail validation
    # otherwise refuses.
    SECURITY_EMAIL_VALIDATOR_ARGS = {"check_deliverability": False, "test_environment": True}


class ProductionConfig(BaseConfig):
    """Production: secrets must come from the environment."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # Administrators sign in with a second factor in production.
    DEFAULT_REQUIRE_2FA_PERMISSIONS = "staff.manage"

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or None
        self.SECURITY_PASSWORD_SALT = os.environ.get("SECURITY_PASSWORD_SALT") or None
        self.SECURITY_TOTP_SECRETS = {"1": os.environ.get("SECURITY_TOTP_SECRET") or None}


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> BaseConfig:
    """Build the configuration named by ``name`` or ``CONSOLE_CONFIG``."""
    name = name or os.environ.get("CONSOLE_CONFIG") or "development"
    try:
        config_class = CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(CONFIGS))
        raise RuntimeError(f"CONSOLE_CONFIG={name!r} is unknown; use one of: {known}") from None
    return config_class()


def derive_defaults(config: dict[str, Any]) -> None:
    """Fill in the settings that follow from others, once every override is known."""
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = config.get("REDIS_URL") or "memory://"


def check_production_secrets(config: dict[str, Any]) -> None:
    """Refuse to run production with missing or development-only secrets."""
    problems = []
    if config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        problems.append("SECRET_KEY")
    if config.get("SECURITY_PASSWORD_SALT") in (None, "", DEV_PASSWORD_SALT):
        problems.append("SECURITY_PASSWORD_SALT")
    if (config.get("SECURITY_TOTP_SECRETS") or {}).get("1") in (None, "", DEV_TOTP_SECRET):
        problems.append("SECURITY_TOTP_SECRET")
    if problems:
        names = ", ".join(problems)
        raise RuntimeError(
            f"Production configuration refuses to start: set {names} in the environment "
            'to long random values (for example: python -c "import secrets; '
            'print(secrets.token_urlsafe(48))").'
        )
