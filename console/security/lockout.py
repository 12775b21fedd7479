"""The per-account sign-in lockout, kept in the database (like django-axes).

Every step that takes a secret for an account (the password at sign-in, the two-factor
code, the password asked again by ``/verify``, the current password on ``/change``)
runs as an *attempt* on that account. Past ``CONSOLE_LOGIN_LIMIT_PER_ACCOUNT`` failed
attempts within its window, the account's next attempts are refused with 429 until the
oldest failure leaves the window, even with the right password.

The attempts live in the ``sign_in_attempt`` table rather than in Flask-Limiter's
storage, so that every gunicorn worker and every host counts the same attempts, with
Redis or without it. Each attempt is written (and committed) before the secret is
checked and the account's attempts are counted after that, so concurrent guesses
cannot all slip under the limit: of any ``limit + 1`` attempts, the last one written
sees the others.

Only a real authentication failure counts (``failed_authentication``): a wrong
password or code for a known account (Flask-Security's ``user_failed_authn``), a
sign-in naming no account, a wrong current password on ``/change``. A refused CSRF
token, a form error, a database outage (answered 503) or a successful sign-in counts
nothing.

The account is the one the address resolves to through Flask-Security's own e-mail
normalisation (``mail_util.normalize`` then ``find_user``), so Unicode variants of an
address (full-width letters, ideographic dots) share one allowance; an address naming
no account is keyed by its normalised form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session
from flask_login import current_user
from flask_security import signals
from limits import parse
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from console.database import db
from console.models.base import utcnow
from console.models.security import SignInAttempt

log = logging.getLogger(__name__)

IN_FLIGHT = dt.timedelta(seconds=60)
"""An attempt still unfinished after this long (its worker died) no longer counts."""


@dataclass(frozen=True)
class Refused:
    """The account is locked out; ``retry_after`` seconds until its next attempt counts."""

    retry_after: int


# --- what counts as a failure ----------------------------------------------------------


def note_failed_authentication() -> None:
    """Mark this request as a real authentication failure (it counts toward the limits)."""
    g.console_authn_failed = True


def failed_authentication() -> bool:
    """True when this request's secret was refused (see the module docstring)."""
    return bool(g.get("console_authn_failed"))


def _on_failed_authn(_sender: Any, **_: Any) -> None:
    note_failed_authentication()


# --- which account -------------------------------------------------------------------


def _address_key(address: str) -> str:
    return "address:" + hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()


def account_key(user: Any) -> str:
    """The lockout key of a known account."""
    return "account:" + user.fs_uniquifier


def key_for_address(raw: str) -> str:
    """The lockout key of the account an address names, as Flask-Security resolves it."""
    security = current_app.extensions["security"]
    raw = raw.strip()
    try:
        address = security.mail_util.normalize(raw)
    except Exception:  # noqa: BLE001 - any refusal of the syntax: not an address at all
        return _address_key(raw.casefold())
    user = security.datastore.find_user(case_insensitive=True, email=address)
    if user is None:
        return _address_key(address.casefold())
    return account_key(user)


def sign_in_account() -> str | None:
    """The account a sign-in form names (None when it names none)."""
    raw = request.form.get("email") or request.form.get("username") or ""
    return key_for_address(raw) if raw.strip() else None


def second_factor_account() -> str | None:
    """The account of a two-factor code (half signed in) or of a signed-in person."""
    if current_user.is_authenticated:
        return account_key(current_user)
    pending = session.get("tf_user_id")
    return f"account:{pending}" if pending else None


def signed_in_account() -> str | None:
    """The signed-in person's account (``/change``)."""
    return account_key(current_user) if current_user.is_authenticated else None


# --- the attempts --------------------------------------------------------------------


def _rule() -> tuple[int, dt.timedelta]:
    item = parse(current_app.config["CONSOLE_LOGIN_LIMIT_PER_ACCOUNT"])
    return item.amount, dt.timedelta(seconds=item.get_expiry())


def begin(account: str) -> int | Refused:
    """Start an attempt on ``account``: its id, or ``Refused`` when the account is locked.

    Runs in sessions of its own, apart from the request's transaction, so the attempt is
    visible to every other worker before the secret is checked. Database errors are left
    to the caller (the request then answers 503 and nothing is counted).
    """
    limit, window = _rule()
    now = utcnow()
    with Session(db.engine) as s, s.begin():
        s.execute(
            delete(SignInAttempt).where(
                SignInAttempt.account == account, SignInAttempt.at <= now - window
            )
        )
        attempt = SignInAttempt(account=account, at=now, failed=None)
        s.add(attempt)
        s.flush()
        attempt_id = attempt.id
    with Session(db.engine) as s, s.begin():
        rows = s.execute(
            select(SignInAttempt.at, SignInAttempt.failed).where(
                SignInAttempt.account == account, SignInAttempt.at > now - window
            )
        ).all()
        counted = sorted(
            at for at, failed in rows if failed or (failed is None and at > now - IN_FLIGHT)
        )
        if len(counted) <= limit:
            return attempt_id
        s.execute(delete(SignInAttempt).where(SignInAttempt.id == attempt_id))
    # The oldest counted attempts leave the window first; this one was not counted.
    frees_at = counted[len(counted) - 1 - limit] + window
    return Refused(max(1, math.ceil((frees_at - now).total_seconds())))


def finish(attempt_id: int, *, failed: bool) -> None:
    """Keep the attempt as a failure, or forget it. A database error is logged only."""
    try:
        with Session(db.engine) as s, s.begin():
            if failed:
                s.execute(
                    update(SignInAttempt).where(SignInAttempt.id == attempt_id).values(failed=True)
                )
            else:
                s.execute(delete(SignInAttempt).where(SignInAttempt.id == attempt_id))
    except SQLAlchemyError:
        log.exception("could not record the end of a sign-in attempt")


def init_app() -> None:
    """Count Flask-Security's failed authentications (connected once per process)."""
    signals.user_failed_authn.connect(_on_failed_authn)
