"""Settings of the console: typed, grouped by concern, read from the environment.

Two kinds of settings live here, each declared once:

* What an operator sets (database, mail relay, Redis, outbox delivery, security, logging,
  the shop) is read from environment variables by one pydantic-settings class per concern.
  A value of the wrong type stops the start with a message naming the variable; an empty
  variable counts as unset.
* What does not vary between deployments (Flask-Security's features, CSRF, cookies,
  e-mail subjects) is a constant, grouped by the same concerns; each environment picked
  by ``CONSOLE_CONFIG`` (``development``, the default, ``testing`` or ``production``)
  states only how it differs.

``load`` assembles Flask's ``app.config`` from them in one order: constants, the
environment's differences, the variables, the caller's overrides, then the settings
derived from others (so that they follow the overrides), then the production checks.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, get_type_hints
from urllib.parse import urlsplit

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Development-only signing secrets. Production refuses to start with any of them.
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"
DEV_PASSWORD_SALT = "dev-only-password-salt-do-not-use-in-production"
DEV_TOTP_SECRET = "dev-only-totp-secret-do-not-use-in-production"

MIN_SECRET_LENGTH = 32
"""Production refuses shorter secrets (``SECRET_KEY=x`` would sign guessable cookies)."""

DEV_BASE_URL = "http://127.0.0.1:5000"
"""Where ``python run.py`` serves the console; the development default of CONSOLE_BASE_URL."""


class ConfigurationError(RuntimeError):
    """The configuration cannot run: the message says which variable to fix and how."""


def default_database_url() -> str:
    """The embedded default: a SQLite file under ``instance/``."""
    return f"sqlite:///{INSTANCE_DIR / 'console.sqlite3'}"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def base_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the console's external address, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "give the full address, such as https://console.shop.example"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "give only the scheme, host, port and path, without query or credentials"
    return None


def host_list(text: str) -> list[str]:
    """``"a.example, b.example"`` -> ``["a.example", "b.example"]`` (lower case)."""
    return [name.strip().lower() for name in text.split(",") if name.strip()]


# --- Environments -------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """One value of ``CONSOLE_CONFIG``: how it differs from the shared settings."""

    name: str
    flask: Mapping[str, Any] = field(default_factory=dict)
    """Flask settings that replace or add to the shared constants."""
    require_2fa_permissions: str = ""
    """``CONSOLE_REQUIRE_2FA_PERMISSIONS`` when the variable is not set."""
    development_secrets: bool = True
    """Whether unset secrets fall back to the development-only values."""
    base_url: str | None = DEV_BASE_URL
    """``CONSOLE_BASE_URL`` when the variable is not set (None: it must be set)."""
    trusted_hosts: str = ""
    """``CONSOLE_TRUSTED_HOSTS`` when the variable is not set."""
    demo_seller: bool = True
    """Whether unset ``SELLER_*`` variables take the demo shop's details (invoices)."""


ENVIRONMENTS: Final[Mapping[str, Environment]] = {
    # The embedded default: SQLite, no SMTP relay, demo data.
    # The development server also answers as "localhost".
    "development": Environment("development", {"DEBUG": False}, trusted_hosts="localhost"),
    # The test suite; each test passes its own database.
    "testing": Environment(
        "testing",
        {
            "TESTING": True,
            # Tests still hash with bcrypt, at the lowest cost it accepts: at full cost
            # every sign-in in the suite is slow.
            "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {"bcrypt__rounds": 4},
            # Test accounts live under the reserved ".test" domain, which e-mail
            # validation otherwise refuses.
            "SECURITY_EMAIL_VALIDATOR_ARGS": {
                "check_deliverability": False,
                "test_environment": True,
            },
        },
    ),
    # Secrets must come from the environment; cookies only over HTTPS; administrators
    # sign in with a second factor.
    "production": Environment(
        "production",
        {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True},
        require_2fa_permissions="staff.manage",
        development_secrets=False,
        base_url=None,
        demo_seller=False,
    ),
}


def environment_named(name: str | None) -> Environment:
    """The environment ``name`` (default ``development``); an unknown name is refused."""
    name = name or "development"
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise ConfigurationError(
            f"CONSOLE_CONFIG={name!r} is unknown; use one of: {known}"
        ) from None


# --- Settings read from the environment, one class per concern -----------------------


class _FromEnvironment(BaseSettings):
    """Read from environment variables (no ``.env`` file); an empty variable is unset."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)


class DatabaseSettings(_FromEnvironment):
    """Where the data lives."""

    url: str | None = Field(None, validation_alias="DATABASE_URL")
    """SQLAlchemy URL; unset: a SQLite file under ``instance/``."""

    def flask(self) -> dict[str, Any]:
        return {"SQLALCHEMY_DATABASE_URI": self.url or default_database_url()}


class MailSettings(_FromEnvironment):
    """The SMTP relay. With no server the console keeps messages in its outbox only."""

    model_config = SettingsConfigDict(env_prefix="MAIL_")

    server: str | None = None
    port: PositiveInt = Field(25, le=65535)
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: PositiveInt = 30
    """Seconds before a silent relay counts as a failed attempt."""
    default_sender: str = "shop@localhost"

    def flask(self) -> dict[str, Any]:
        return {
            "MAIL_SERVER": self.server,
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": self.use_tls,
            "MAIL_USE_SSL": self.use_ssl,
            "MAIL_USERNAME": self.username,
            "MAIL_PASSWORD": _secret(self.password),
            "MAIL_TIMEOUT": self.timeout,
            "MAIL_DEFAULT_SENDER": self.default_sender,
        }


class RedisSettings(_FromEnvironment):
    """Redis, shared by the hosts of a multi-host deployment: job queue, rate limits."""

    url: str | None = Field(None, validation_alias="REDIS_URL")

    def flask(self) -> dict[str, Any]:
        return {"REDIS_URL": self.url}


class OutboxSettings(_FromEnvironment):
    """Delivery of queued e-mail (console.notify).

    A failed attempt is retried after ``retry_base_seconds * 2**(attempts-1)`` seconds,
    at most ``retry_max_seconds``; after ``max_attempts`` the message is marked failed
    and stays visible in the console until someone resends it.
    """

    model_config = SettingsConfigDict(env_prefix="OUTBOX_")

    max_attempts: PositiveInt = 8
    retry_base_seconds: NonNegativeInt = 30
    retry_max_seconds: NonNegativeInt = 3600
    batch_size: PositiveInt = 50
    poll_seconds: PositiveInt = 5
    claim_timeout_seconds: PositiveInt = 300
    """A claim older than this belongs to a dispatcher that died mid-send."""
    rq_queue: str = "outbox"
    stalled_seconds: PositiveInt = 900
    """/status flags delivery as stalled when a due message waited longer than this."""

    def flask(self) -> dict[str, Any]:
        return {
            "OUTBOX_STALLED_SECONDS": self.stalled_seconds,
            "OUTBOX_MAX_ATTEMPTS": self.max_attempts,
            "OUTBOX_RETRY_BASE_SECONDS": self.retry_base_seconds,
            "OUTBOX_RETRY_MAX_SECONDS": self.retry_max_seconds,
            "OUTBOX_BATCH_SIZE": self.batch_size,
            "OUTBOX_POLL_SECONDS": self.poll_seconds,
            "OUTBOX_CLAIM_TIMEOUT_SECONDS": self.claim_timeout_seconds,
            "OUTBOX_RQ_QUEUE": self.rq_queue,
        }


class WebhookSettings(_FromEnvironment):
    """Signed webhooks of order events (console.notify.webhooks, docs/webhooks.md).

    Deliveries are retried with the outbox's backoff and attempt limit; an endpoint
    whose deliveries failed ``max_failures`` times in a row is disabled until an admin
    turns it on again. Addresses that are not public (loopback, private, link-local,
    ...) and plain HTTP are refused unless the ``allow_*`` settings say otherwise
    (development and tests).
    """

    model_config = SettingsConfigDict(env_prefix="WEBHOOK_")

    max_failures: PositiveInt = 10
    """Consecutive failed attempts after which an endpoint is disabled."""
    timeout_seconds: PositiveInt = 10
    """Seconds to connect, send and read the answer of one delivery."""
    allow_http: bool = False
    """Accept ``http://`` endpoint URLs (development only)."""
    allow_private_addresses: bool = False
    """Accept endpoints whose host resolves to a loopback, private or link-local address."""

    def flask(self) -> dict[str, Any]:
        return {
            "WEBHOOK_MAX_FAILURES": self.max_failures,
            "WEBHOOK_TIMEOUT_SECONDS": self.timeout_seconds,
            "WEBHOOK_ALLOW_HTTP": self.allow_http,
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": self.allow_private_addresses,
        }


class CustomerPageSettings(_FromEnvironment):
    """The customer's order page, reached from the link in every order e-mail."""

    link_max_age_days: PositiveInt = Field(90, validation_alias="ORDER_LINK_MAX_AGE_DAYS")
    """Days an order link in an e-mail keeps working."""
    rate_limit: str = Field("60 per minute", validation_alias="ORDER_PAGE_RATE_LIMIT")
    """Flask-Limiter rate: requests to order pages from one client address."""

    def flask(self) -> dict[str, Any]:
        return {
            "ORDER_LINK_MAX_AGE": dt.timedelta(days=self.link_max_age_days),
            "ORDER_PAGE_RATE_LIMIT": self.rate_limit,
        }


class JobsSettings(_FromEnvironment):
    """Background jobs (console.jobs) and the list exports, inline or as jobs.

    A job runs on RQ workers when ``REDIS_URL`` is set, else on a thread of the web
    process. Its result file is kept ``keep_days`` days under ``result_dir`` (a folder
    every web host and worker shares), then removed by ``flask jobs prune``.
    """

    model_config = SettingsConfigDict(env_prefix="JOBS_")

    result_dir: str | None = None
    """Where result files are written; unset: ``instance/job-results``."""
    keep_days: PositiveInt = 7
    """Days a finished job's result file is kept before ``jobs prune`` removes it."""
    stale_after: PositiveInt = 900
    """Seconds without a sign of life after which a running job counts as failed (its
    worker died); a running job reports progress at least every batch of rows."""
    poll_seconds: PositiveInt = 5
    """How often the in-process runner and the RQ worker's sweep look for work."""
    rq_queue: str = "jobs"
    export_inline_max_rows: PositiveInt = Field(10_000, validation_alias="EXPORT_INLINE_MAX_ROWS")
    """Exports of up to this many rows download at once; larger ones become jobs."""
    export_batch_size: PositiveInt = Field(2_000, validation_alias="EXPORT_BATCH_SIZE")
    """Rows read from the database at a time while exporting (memory stays flat)."""

    def flask(self) -> dict[str, Any]:
        return {
            "JOBS_RESULT_DIR": self.result_dir or str(INSTANCE_DIR / "job-results"),
            "JOBS_KEEP_DAYS": self.keep_days,
            "JOBS_STALE_AFTER": self.stale_after,
            "JOBS_POLL_SECONDS": self.poll_seconds,
            "JOBS_RQ_QUEUE": self.rq_queue,
            "EXPORT_INLINE_MAX_ROWS": self.export_inline_max_rows,
            "EXPORT_BATCH_SIZE": self.export_batch_size,
        }


UPLOAD_FORM_ALLOWANCE = 1024 * 1024
"""Bytes a request may carry beyond an import's largest file (form fields, multipart)."""


class ImportSettings(_FromEnvironment):
    """Imports of customers and products from CSV or XLSX files (console.jobs.imports)."""

    model_config = SettingsConfigDict(env_prefix="IMPORT_")

    max_bytes: PositiveInt = 20 * 1024 * 1024
    """Largest file an import takes (bytes)."""
    max_unpacked_bytes: PositiveInt = 200 * 1024 * 1024
    """Largest size an XLSX workbook may unpack to (its zip parts added up), checked
    before the workbook is opened: a zip bomb is refused unread."""
    max_ratio: PositiveInt = 200
    """Largest compression ratio of a workbook part over 1 MB (zip bombs reach thousands)."""
    inline_max_rows: PositiveInt = 1_000
    """Files of up to this many rows are previewed and applied at once; larger ones as jobs."""

    def flask(self) -> dict[str, Any]:
        return {
            "IMPORT_MAX_BYTES": self.max_bytes,
            "IMPORT_MAX_UNPACKED_BYTES": self.max_unpacked_bytes,
            "IMPORT_MAX_RATIO": self.max_ratio,
            "IMPORT_INLINE_MAX_ROWS": self.inline_max_rows,
            # The largest request body the console reads: an import's file and its form.
            # Werkzeug answers a larger one 413 before spooling it to disk.
            "MAX_CONTENT_LENGTH": self.max_bytes + UPLOAD_FORM_ALLOWANCE,
        }


class SecuritySettings(_FromEnvironment):
    """Secrets, sign-in limits, session lifetimes and the proxies trusted."""

    secret_key: SecretStr | None = Field(None, validation_alias="SECRET_KEY")
    password_salt: SecretStr | None = Field(None, validation_alias="SECURITY_PASSWORD_SALT")
    totp_secret: SecretStr | None = Field(None, validation_alias="SECURITY_TOTP_SECRET")
    """The key that encrypts each person's two-factor secret at rest."""

    login_limit_per_account: str = Field(
        "5 per 5 minutes", validation_alias="CONSOLE_LOGIN_LIMIT_PER_ACCOUNT"
    )
    """Flask-Limiter rate: failed sign-ins naming one account."""
    login_limit_per_address: str = Field(
        "30 per 5 minutes", validation_alias="CONSOLE_LOGIN_LIMIT_PER_ADDRESS"
    )
    """Flask-Limiter rate: failed sign-ins from one client address."""
    ratelimit_storage_uri: str | None = Field(None, validation_alias="RATELIMIT_STORAGE_URI")
    """Where the counters live; unset: derived from ``REDIS_URL`` (see ``derive``)."""
    web_concurrency: PositiveInt = Field(1, validation_alias="WEB_CONCURRENCY")
    """Worker processes serving the app on this host; gunicorn.conf.py sets it for its
    workers. Production refuses per-process limiter storage with more than one."""

    idle_timeout_minutes: PositiveInt = Field(30, validation_alias="CONSOLE_IDLE_TIMEOUT_MINUTES")
    """A signed-in session ends this long after its last request."""
    staff_freshness_minutes: PositiveInt = Field(
        15, validation_alias="CONSOLE_STAFF_FRESHNESS_MINUTES"
    )
    """A sign-in older than this asks for the password again before staff changes."""
    invitation_days: PositiveInt = Field(7, validation_alias="CONSOLE_INVITATION_DAYS")
    """An invitation link to a new staff account works this many days after sending."""

    proxy_count: NonNegativeInt = Field(0, validation_alias="PROXY_COUNT")
    """Proxies (load balancers) in front of the app whose X-Forwarded-* headers are
    trusted; rate limits and session protection need the real client address."""

    base_url: str | None = Field(None, validation_alias="CONSOLE_BASE_URL")
    """The console's external address (``https://console.shop.example``): every link in
    a mail is built from it, never from the request's Host header."""
    trusted_hosts: str | None = Field(None, validation_alias="CONSOLE_TRUSTED_HOSTS")
    """Comma-separated host names the console answers besides ``base_url``'s."""

    @field_validator("base_url", mode="before")
    @classmethod
    def _absolute_url(cls, value: object) -> object:
        if isinstance(value, str) and (problem := base_url_problem(value)):
            raise ValueError(problem)
        return value

    def flask(self, environment: Environment) -> dict[str, Any]:
        secret_key = _secret(self.secret_key)
        salt = _secret(self.password_salt)
        totp = _secret(self.totp_secret)
        if environment.development_secrets:
            secret_key = secret_key or DEV_SECRET_KEY
            salt = salt or DEV_PASSWORD_SALT
            totp = totp or DEV_TOTP_SECRET
        return {
            "SECRET_KEY": secret_key,
            "SECURITY_PASSWORD_SALT": salt,
            "SECURITY_TOTP_SECRETS": {"1": totp},
            "CONSOLE_LOGIN_LIMIT_PER_ACCOUNT": self.login_limit_per_account,
            "CONSOLE_LOGIN_LIMIT_PER_ADDRESS": self.login_limit_per_address,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "WEB_CONCURRENCY": self.web_concurrency,
            "CONSOLE_IDLE_TIMEOUT": dt.timedelta(minutes=self.idle_timeout_minutes),
            "CONSOLE_STAFF_FRESHNESS": dt.timedelta(minutes=self.staff_freshness_minutes),
            "CONSOLE_INVITATION_VALIDITY": dt.timedelta(days=self.invitation_days),
            "PROXY_COUNT": self.proxy_count,
            "CONSOLE_BASE_URL": self.base_url or environment.base_url,
            "CONSOLE_TRUSTED_HOSTS": host_list(
                self.trusted_hosts if self.trusted_hosts is not None else environment.trusted_hosts
            ),
        }


class TwoFactorSettings(BaseSettings):
    """Who must sign in with a second factor.

    Kept apart because here an empty variable means something: nobody (a comma-separated
    list with no items), whereas unset means the environment's default.
    """

    model_config = SettingsConfigDict(env_ignore_empty=False, extra="ignore", frozen=True)

    required_for: str | None = Field(None, validation_alias="CONSOLE_REQUIRE_2FA_PERMISSIONS")
    """Comma-separated permissions whose holders must use two-factor sign-in."""

    def flask(self, environment: Environment) -> dict[str, Any]:
        text = self.required_for
        if text is None:
            text = environment.require_2fa_permissions
        names = [name.strip() for name in text.split(",") if name.strip()]
        return {"CONSOLE_REQUIRE_2FA_PERMISSIONS": names}


class LoggingSettings(_FromEnvironment):
    """Logging (console/logs.py) and error reporting."""

    model_config = SettingsConfigDict(env_prefix="LOG_")

    level: str = "INFO"
    format: Literal["console", "json"] = "console"
    """``json`` writes one JSON object per line."""
    file: str | None = None
    """Also write to this file, rotated."""
    sentry_dsn: str | None = Field(None, validation_alias="SENTRY_DSN")

    @field_validator("level", mode="before")
    @classmethod
    def _known_level(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("use one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def flask(self) -> dict[str, Any]:
        return {
            "LOG_LEVEL": self.level,
            "LOG_FORMAT": self.format,
            "LOG_FILE": self.file,
            "SENTRY_DSN": self.sentry_dsn,
        }


LANGUAGES: Final[tuple[str, ...]] = ("en", "de", "fr")
"""The languages the console is written in (``console/translations/``), English first."""


class ShopSettings(_FromEnvironment):
    """The shop the console serves, and its order rules."""

    console_name: str = Field("Back Office", validation_alias="CONSOLE_NAME")
    """Shown in the console's header."""
    currency: str = Field("EUR", validation_alias="CONSOLE_CURRENCY")
    shop_name: str = Field("Our shop", validation_alias="SHOP_NAME")
    """The shop's name in customer e-mails."""
    four_eyes: bool = Field(True, validation_alias="ORDERS_FOUR_EYES")
    """Nobody approves an order they created."""
    refund_four_eyes_above: Decimal = Field(
        Decimal("100.00"), ge=0, decimal_places=2, validation_alias="REFUND_FOUR_EYES_ABOVE"
    )
    """A refund above this amount is approved by someone other than the person who
    received the return (docs/returns.md)."""
    low_stock_threshold: NonNegativeInt = Field(5, validation_alias="LOW_STOCK_THRESHOLD")
    """Products at or below this many units are listed on the dashboard."""
    prices_include_tax: bool = Field(False, validation_alias="SHOP_PRICES_INCLUDE_TAX")
    """Catalogue prices include tax (the tax is shown as included) rather than having
    it added on top (docs/pricing.md)."""
    shipping_tax_rate: Decimal = Field(
        Decimal("0"), ge=0, le=100, decimal_places=2, validation_alias="SHOP_SHIPPING_TAX_RATE"
    )
    """Percent of tax on shipping charges (included in them when prices include tax)."""
    timezone: str = Field("UTC", validation_alias="SHOP_TIMEZONE")
    """The shop's time zone (an IANA name such as ``Europe/Berlin``): times are shown in
    it to staff who chose none on their profile (``console.localtime``)."""
    default_locale: Literal["en", "de", "fr"] = Field("en", validation_alias="DEFAULT_LOCALE")
    """The shop's language: staff whose profile and browser name none of ``LANGUAGES``
    read it, and customers who have no language of their own get mail in it
    (``console.i18n``)."""

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_zone(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value not in zoneinfo.available_timezones() | {"UTC"}:
                raise ValueError("use an IANA time zone name, such as Europe/Berlin or UTC")
        return value

    def flask(self) -> dict[str, Any]:
        return {
            "CONSOLE_NAME": self.console_name,
            "CONSOLE_CURRENCY": self.currency,
            "SHOP_NAME": self.shop_name,
            "ORDERS_FOUR_EYES": self.four_eyes,
            "REFUND_FOUR_EYES_ABOVE": self.refund_four_eyes_above,
            "LOW_STOCK_THRESHOLD": self.low_stock_threshold,
            "SHOP_PRICES_INCLUDE_TAX": self.prices_include_tax,
            "SHOP_SHIPPING_TAX_RATE": self.shipping_tax_rate,
            "SHOP_TIMEZONE": self.timezone,
            "DEFAULT_LOCALE": self.default_locale,
        }


class ApiSettings(_FromEnvironment):
    """The JSON API (console.api): per-token limits and the largest request body."""

    model_config = SettingsConfigDict(env_prefix="API_")

    rate_limit: str = "600 per minute"
    """Requests each token may make (Flask-Limiter's notation, e.g. "100 per minute";
    several separated by ";"); kept in Redis when ``REDIS_URL`` is set."""
    max_body_bytes: PositiveInt = 1024 * 1024
    """Largest request body the API reads; a larger one answers 413 unread."""

    def flask(self) -> dict[str, Any]:
        return {"API_RATE_LIMIT": self.rate_limit, "API_MAX_BODY_BYTES": self.max_body_bytes}


DEMO_SELLER: Final[Mapping[str, str]] = {
    "SELLER_NAME": "Demo Shop Ltd",
    "SELLER_ADDRESS": "1 Example Street; 1000 Brussels; Belgium",
    "SELLER_VAT_ID": "BE0123456789",
    "SELLER_EMAIL": "accounts@shop.example",
}
"""The seller an invoice names in development and tests, where no SELLER_* is set."""


class DocumentSettings(_FromEnvironment):
    """Invoices, credit notes and packing slips (console.services.documents).

    The seller's details are printed on every invoice and credit note as they are when
    it is issued (an issued document never changes, so a later change of these
    variables only affects documents issued after it).
    """

    invoice_on: Literal["shipped", "approved"] = Field("shipped", validation_alias="INVOICE_ON")
    """The order transition that issues its invoice (and whose e-mail carries it)."""
    seller_name: str | None = Field(None, validation_alias="SELLER_NAME")
    """The seller's legal name; unset: the shop's name (``SHOP_NAME``)."""
    seller_address: str | None = Field(None, validation_alias="SELLER_ADDRESS")
    """The seller's postal address, its lines separated by ``;`` or new lines."""
    seller_vat_id: str | None = Field(None, validation_alias="SELLER_VAT_ID")
    seller_email: str | None = Field(None, validation_alias="SELLER_EMAIL")

    @field_validator("invoice_on", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def flask(self, environment: Environment) -> dict[str, Any]:
        values = {
            "SELLER_NAME": self.seller_name,
            "SELLER_ADDRESS": self.seller_address,
            "SELLER_VAT_ID": self.seller_vat_id,
            "SELLER_EMAIL": self.seller_email,
        }
        if environment.demo_seller:
            values = {key: value or DEMO_SELLER[key] for key, value in values.items()}
        return {"INVOICE_ON": self.invoice_on, **values}


def _variable(model: type[BaseSettings], location: str | int) -> str:
    """The environment variable behind ``model``'s field ``location``."""
    info = model.model_fields.get(str(location))
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    prefix = model.model_config.get("env_prefix") or ""
    return f"{prefix}{location}".upper()


@dataclass(frozen=True)
class Settings:
    """Everything read from the environment, one typed object per concern."""

    database: DatabaseSettings
    mail: MailSettings
    redis: RedisSettings
    outbox: OutboxSettings
    webhooks: WebhookSettings
    jobs: JobsSettings
    imports: ImportSettings
    security: SecuritySettings
    two_factor: TwoFactorSettings
    logging: LoggingSettings
    shop: ShopSettings
    api: ApiSettings
    customer_page: CustomerPageSettings
    documents: DocumentSettings

    @classmethod
    def from_environment(cls) -> Settings:
        """Read every concern now; every bad variable is named in one error."""
        concerns: dict[str, Any] = {}  # each built from its field's own annotation
        problems: list[str] = []
        for concern, model in get_type_hints(cls).items():
            try:
                concerns[concern] = model()
            except ValidationError as exc:
                for error in exc.errors():
                    name = _variable(model, error["loc"][0]) if error["loc"] else "?"
                    problems.append(f"{name}={error['input']!r}: {error['msg']}")
        if problems:
            raise ConfigurationError(
                "Configuration refuses to start; fix these environment variables: "
                + "; ".join(problems)
            )
        return cls(**concerns)

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable the concerns read (``CONSOLE_CONFIG`` aside)."""
        names = []
        for model in get_type_hints(cls).values():
            names += [_variable(model, name) for name in model.model_fields]
        return names

    def flask(self, environment: Environment) -> dict[str, Any]:
        """These settings under the keys Flask and its extensions read."""
        return (
            self.database.flask()
            | self.mail.flask()
            | self.redis.flask()
            | self.outbox.flask()
            | self.webhooks.flask()
            | self.jobs.flask()
            | self.imports.flask()
            | self.security.flask(environment)
            | self.two_factor.flask(environment)
            | self.logging.flask()
            | self.shop.flask()
            | self.api.flask()
            | self.customer_page.flask()
            | self.documents.flask(environment)
        )


# --- Constants, by concern ------------------------------------------------------------


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues (``pybabel extract -k N_``, see babel.cfg) where
    it cannot be translated yet: it is translated where it is used, in the reader's
    language."""
    return message


DATABASE: Final[Mapping[str, Any]] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
}

SIGN_IN: Final[Mapping[str, Any]] = {
    "SECURITY_PASSWORD_HASH": "bcrypt",
    "SECURITY_REGISTERABLE": False,
    "SECURITY_RECOVERABLE": True,
    "SECURITY_CHANGEABLE": True,
    "SECURITY_TRACKABLE": True,
    "SECURITY_POST_LOGIN_VIEW": "/admin/",
    "SECURITY_POST_LOGOUT_VIEW": "/login",
    # No "remember me" (the sign-in form has no such box): a remember cookie would
    # restore a session without the second factor and past the idle timeout.
    "SECURITY_DEFAULT_REMEMBER_ME": False,
    # No DNS look-up: back offices often have no route to the internet.
    "SECURITY_EMAIL_VALIDATOR_ARGS": {"check_deliverability": False},
    "SECURITY_SEND_REGISTER_EMAIL": False,
    # Password strength: at least 12 characters and a zxcvbn score of 3 (of 4), so
    # that "Password123!" style choices are refused with an explanation.
    "SECURITY_PASSWORD_LENGTH_MIN": 12,
    "SECURITY_PASSWORD_COMPLEXITY_CHECKER": "zxcvbn",
    "SECURITY_ZXCVBN_MINIMUM_SCORE": 3,
    # Same answer for an unknown account and a wrong password (login and reset), so
    # that the forms do not tell who has an account.
    "SECURITY_RETURN_GENERIC_RESPONSES": True,
    "SECURITY_FLASH_MESSAGES": True,
    # A password change or admin reset signs the person out of every other session.
    "SECURITY_SEND_PASSWORD_CHANGE_EMAIL": True,
    "SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL": True,
    "SECURITY_RESET_PASSWORD_WITHIN": dt.timedelta(hours=2),
    # Translated into the account's language when sent (console.security.mail).
    "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET": N_("Reset your Back Office password"),
}

RATE_LIMITS: Final[Mapping[str, Any]] = {
    # A moving window: a burst straddling a window boundary gets no extra tries.
    "RATELIMIT_STRATEGY": "moving-window",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis down must not stop sign-in: the limits go on in process memory (logged by
    # Flask-Limiter as "Rate limit storage unreachable") and the per-account lockout,
    # kept in the database, is unaffected. Redis is checked again now and then.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
}

TWO_FACTOR: Final[Mapping[str, Any]] = {
    # Authenticator apps (TOTP), open to every staff member; required for some
    # permissions by CONSOLE_REQUIRE_2FA_PERMISSIONS.
    "SECURITY_TWO_FACTOR": True,
    "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
    "SECURITY_TWO_FACTOR_REQUIRED": False,
    "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE": True,
    "SECURITY_TOTP_ISSUER": "Back Office",
    "SECURITY_TWO_FACTOR_POST_SETUP_VIEW": "/admin/",
}

SESSIONS: Final[Mapping[str, Any]] = {
    # Flask-Login's strong protection: a session used from another address or browser
    # is dropped. It only applies to non-permanent sessions, so the session cookie
    # stays a browser-session cookie and the idle timeout is kept in the session
    # (console.security.sessions).
    "SESSION_PROTECTION": "strong",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
}

FORMS: Final[Mapping[str, Any]] = {
    # CSRF on everywhere. A form left open all day must still save, so the token lives
    # as long as the signed session instead of one hour.
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_TIME_LIMIT": None,
}

ADMIN: Final[Mapping[str, Any]] = {
    "FLASK_ADMIN_SWATCH": "cerulean",
    # Lists of the big tables skip the full count; see console/admin/base.py.
    "ADMIN_PAGE_SIZE": 25,
}


CUSTOMER_EMAILS: Final[Mapping[str, Any]] = {
    # Subjects of the customer e-mails (templates/email/<name>.txt and .html);
    # ``{number}`` and ``{shop}`` are filled in, after translation into the customer's
    # language (console.services.notifications).
    "ORDER_EMAIL_SUBJECTS": {
        "order_received": N_("{shop}: we received your order {number}"),
        "order_updated": N_("{shop}: your order {number} was updated"),
        "order_approved": N_("{shop}: your order {number} is confirmed"),
        "order_rejected": N_("{shop}: we cannot fulfil your order {number}"),
        "order_shipped": N_("{shop}: your order {number} is on its way"),
        "order_cancelled": N_("{shop}: your order {number} was cancelled"),
        "return_received": N_("{shop}: we received your return for order {number}"),
        "return_refunded": N_("{shop}: your refund for order {number}"),
    },
}

CONSTANTS: Final = (
    DATABASE,
    SIGN_IN,
    RATE_LIMITS,
    TWO_FACTOR,
    SESSIONS,
    FORMS,
    ADMIN,
    CUSTOMER_EMAILS,
)
"""Every group of constants, in the order ``load`` applies them."""


# --- Assembly ----------------------------------------------------------------------------


def load(name: str | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Flask configuration of environment ``name``, with ``overrides`` applied.

    ``name`` defaults to ``overrides["CONSOLE_CONFIG"]``, then to the ``CONSOLE_CONFIG``
    variable, then to ``development``. Overrides use Flask's keys and come before the
    derived settings, so that these follow them. Raises ``ConfigurationError`` naming
    what to fix.
    """
    overrides = dict(overrides or {})
    environment = environment_named(
        name or overrides.get("CONSOLE_CONFIG") or os.environ.get("CONSOLE_CONFIG")
    )
    config: dict[str, Any] = {"ENV_NAME": environment.name}
    for group in CONSTANTS:
        config.update(copy.deepcopy(dict(group)))
    config.update(copy.deepcopy(dict(environment.flask)))
    config.update(Settings.from_environment().flask(environment))
    config.update(overrides)
    derive(config)
    if not environment.development_secrets:
        check_production_secrets(config)
    return config


def rate_limit_storage(redis_url: str | None) -> str:
    """Sign-in counters live in Redis when there is one, so that every host shares them."""
    return redis_url or "memory://"


def delivers_in_process(*, redis_url: str | None, testing: bool) -> bool:
    """Whether each web process runs its own outbox delivery thread.

    Yes for the embedded default, which delivers webhooks (and e-mail when a relay is
    set; without one, mail waits in the outbox and the thread only posts webhooks); no
    when RQ workers on Redis deliver, and under test (tests that want it say so).
    """
    return not redis_url and not testing


def runs_jobs_in_process(*, redis_url: str | None, testing: bool) -> bool:
    """Whether each web process runs background jobs on a thread of its own.

    Yes for the embedded default; no when RQ workers on Redis run them, and under test
    (tests that want the thread say so).
    """
    return not redis_url and not testing


def derive(config: dict[str, Any]) -> None:
    """Fill in the settings that follow from others, unless set explicitly."""
    derive_hosts(config)
    if config.get("JOBS_IN_PROCESS") is None:
        config["JOBS_IN_PROCESS"] = runs_jobs_in_process(
            redis_url=config.get("REDIS_URL"), testing=bool(config.get("TESTING"))
        )
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = rate_limit_storage(config.get("REDIS_URL"))
    if config.get("OUTBOX_IN_PROCESS") is None:
        config["OUTBOX_IN_PROCESS"] = delivers_in_process(
            redis_url=config.get("REDIS_URL"),
            testing=bool(config.get("TESTING")),
        )


def derive_hosts(config: dict[str, Any]) -> None:
    """The external address without a trailing slash, and the hosts requests may name.

    Flask refuses (400) a request whose Host (or trusted ``X-Forwarded-Host``) is not in
    ``TRUSTED_HOSTS``: the external address's host plus ``CONSOLE_TRUSTED_HOSTS``.
    """
    base_url = config.get("CONSOLE_BASE_URL")
    if not base_url:
        return
    if problem := base_url_problem(base_url):
        raise ConfigurationError(f"CONSOLE_BASE_URL={base_url!r}: {problem}")
    config["CONSOLE_BASE_URL"] = base_url.strip().rstrip("/")
    if config.get("TRUSTED_HOSTS") is None:
        host = urlsplit(base_url.strip()).hostname or ""
        extra = config.get("CONSOLE_TRUSTED_HOSTS") or []
        config["TRUSTED_HOSTS"] = list(dict.fromkeys([host, *extra]))


def check_production_secrets(config: Mapping[str, Any]) -> None:
    """Refuse to run production with missing, short or development-only secrets, without
    the external address mail links are built from, or with per-process rate-limit
    counters under several worker processes."""
    given = {
        "SECRET_KEY": (config.get("SECRET_KEY"), DEV_SECRET_KEY),
        "SECURITY_PASSWORD_SALT": (config.get("SECURITY_PASSWORD_SALT"), DEV_PASSWORD_SALT),
        "SECURITY_TOTP_SECRET": (
            (config.get("SECURITY_TOTP_SECRETS") or {}).get("1"),
            DEV_TOTP_SECRET,
        ),
    }
    problems = [
        name
        for name, (value, development) in given.items()
        if not value or value == development or len(value) < MIN_SECRET_LENGTH
    ]
    if problems:
        names = ", ".join(problems)
        raise ConfigurationError(
            f"Production configuration refuses to start: set {names} in the environment "
            f"to long random values, at least {MIN_SECRET_LENGTH} characters (for example: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    if not config.get("CONSOLE_BASE_URL"):
        raise ConfigurationError(
            "Production configuration refuses to start: set CONSOLE_BASE_URL to the "
            "console's external address (for example https://console.shop.example); "
            "links in e-mails are built from it."
        )
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "")
    if storage.startswith("memory://") and int(config.get("WEB_CONCURRENCY") or 1) > 1:
        raise ConfigurationError(
            "Production configuration refuses to start: the rate limits' storage is "
            f"per process (memory://) but WEB_CONCURRENCY={config['WEB_CONCURRENCY']} "
            "worker processes would each keep their own counters. Set REDIS_URL (or "
            "RATELIMIT_STORAGE_URI) to a shared storage, or run one worker per host."
        )
