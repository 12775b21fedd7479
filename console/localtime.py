"""Times as each person reads them: stored in UTC, shown in the person's time zone.

The database keeps every time as naive UTC (``console.models.base.utcnow``). What a
person reads is in their own zone: the one chosen on their profile, or the shop's
(``SHOP_TIMEZONE``) when they chose none. Times a person types (the lists' date filters)
are read in that zone too and turned back into UTC before they reach SQL, and "a day"
(the dashboard's last 30 days) is the person's day, from their midnight to the next.

Zones come from the IANA database that Python's ``zoneinfo`` reads (Debian's tzdata);
an unknown or damaged zone name never breaks a page: it falls back to the shop's zone,
and that to UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from flask_babel import format_date, format_time, get_locale
from flask_login import current_user

UTC = dt.UTC
DEFAULT_ZONE = "UTC"


@cache
def known_zones() -> tuple[str, ...]:
    """Every zone name a person may choose, sorted (the IANA names, e.g. ``Europe/Berlin``)."""
    return tuple(sorted(zoneinfo.available_timezones() | {DEFAULT_ZONE}))


@cache
def _known_zone_set() -> frozenset[str]:
    return frozenset(known_zones())


@lru_cache(maxsize=256)
def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone ``name`` if it is a known one, else None (never raises).

    Asked for every time a page shows (a list: one per row and column), and always for
    one of a few names (the shop's, the people's): each is looked up once per process.
    """
    if not name or name not in _known_zone_set():
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def shop_zone() -> zoneinfo.ZoneInfo:
    """The shop's zone (``SHOP_TIMEZONE``); UTC outside an app or when it is unknown."""
    name = current_app.config.get("SHOP_TIMEZONE") if has_app_context() else None
    return zone_named(name) or zoneinfo.ZoneInfo(DEFAULT_ZONE)


def recipient_zone(person: Any) -> zoneinfo.ZoneInfo:
    """The zone of what is written for ``person`` (an e-mail to a staff member): their
    profile's zone, else the shop's, whoever's request or runner writes it."""
    return zone_named(getattr(person, "timezone", None)) or shop_zone()


@contextmanager
def zone_of(person: Any) -> Iterator[zoneinfo.ZoneInfo]:
    """Within the block, times are shown in ``person``'s zone (``recipient_zone``) rather
    than in the signed-in person's: an e-mail written during someone else's request."""
    zone = recipient_zone(person)
    earlier = g.get("_written_for_zone") if has_app_context() else None
    if has_app_context():
        g._written_for_zone = zone
    try:
        yield zone
    finally:
        if has_app_context():
            g._written_for_zone = earlier


def person_zone() -> zoneinfo.ZoneInfo:
    """The zone of the person signed in for this request, else the shop's (inside
    ``zone_of``: the zone of the person written for)."""
    if has_app_context():
        written_for = g.get("_written_for_zone")
        if written_for is not None:
            return written_for
    if has_request_context():
        # One look-up of the person (a list asks for each time it shows).
        person = current_user._get_current_object()
        if person.is_authenticated:
            chosen = zone_named(getattr(person, "timezone", None))
            if chosen is not None:
                return chosen
    return shop_zone()


def to_local(value: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """``value`` (naive UTC as stored, or aware) in ``zone`` (the person's by default)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(zone or person_zone())


def to_utc(value: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """A time the person typed (naive, in ``zone``: the person's by default) as stored:
    naive UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=zone or person_zone())
    return aware.astimezone(UTC).replace(tzinfo=None)


def show(value: dt.datetime | None, *, seconds: bool = False, zone_name: bool = True) -> str:
    """``value`` as the person reads it: ``2026-12-02 14:34 CET`` in their zone.

    ``zone_name=False`` leaves the zone out, for tables whose heading or page names it.
    """
    if value is None:
        return ""
    local = to_local(value)
    text = _in_locale(local, seconds)
    return f"{text} {local.tzname()}" if zone_name else text


def _in_locale(local: dt.datetime, seconds: bool) -> str:
    """``local`` as the reader's language writes a date and time: Babel's medium date and
    short (or medium, with seconds) time, joined by the locale's pattern
    (``25.11.2026, 00:30`` in German, ``25 nov. 2026 00:30`` in French).

    English keeps ``2026-11-25 00:30``: unambiguous for a shop's staff across the
    English-speaking world, where CLDR's ``11/25/26`` reads differently by country.
    """
    locale = get_locale() if has_app_context() else None
    if locale is None or locale.language == "en":
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    date = format_date(local, "medium", rebase=False)
    time = format_time(local, "medium" if seconds else "short", rebase=False)
    return str(locale.datetime_formats["short"]).format(time, date)


def show_date(value: dt.datetime | dt.date | None) -> str:
    """The person's calendar day of ``value`` (a stored time), or a date as it is."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return to_local(value).strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


def zone_label() -> str:
    """The person's zone as the pages name it: ``Europe/Berlin``."""
    return person_zone().key


def local_days(days: int, now: dt.datetime) -> tuple[dt.datetime, list[dt.date]]:
    """The person's last ``days`` calendar days up to ``now`` (naive UTC): the UTC start
    of the first one, and the days themselves, oldest first."""
    zone = person_zone()
    today = to_local(now, zone).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    return start.astimezone(UTC).replace(tzinfo=None), [
        first + dt.timedelta(days=n) for n in range(days)
    ]


def init_app(app: Flask) -> None:
    """Give every template ``value | localtime``, ``value | localdate`` and ``zone_label()``."""
    app.jinja_env.filters["localtime"] = show
    app.jinja_env.filters["localdate"] = show_date
    app.jinja_env.globals["zone_label"] = zone_label
