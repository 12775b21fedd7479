"""What each staff member sets for themselves: the time zone they read times in and the
language they read the console in."""

from __future__ import annotations

from sqlalchemy.orm import Session

from console.i18n import known_language
from console.localtime import known_zones
from console.models import User
from console.services.errors import DomainError

UNKNOWN_ZONE = "Choose a time zone from the list (for example Europe/Berlin)."


def save(
    session: Session, person: User, *, timezone: str | None, language: str | None
) -> tuple[str | None, str | None]:
    """Keep ``timezone`` (an IANA zone, or blank for the shop's) and ``language`` (``en``,
    ``de``, ``fr``, or blank for the browser's) as ``person``'s; commits and returns what
    was kept. An unknown zone raises ``DomainError`` and changes nothing; a language the
    console does not speak is kept as blank (the browser's), never an error."""
    zone = (timezone or "").strip() or None
    if zone is not None and zone not in known_zones():
        raise DomainError(UNKNOWN_ZONE)
    person.timezone = zone
    person.language = known_language(language)
    session.commit()
    return zone, person.language
