"""What each staff member sets for themselves: for now, the time zone they read times in."""

from __future__ import annotations

from sqlalchemy.orm import Session

from console.localtime import known_zones
from console.models import User
from console.services.errors import DomainError

UNKNOWN_ZONE = "Choose a time zone from the list (for example Europe/Berlin)."


def set_timezone(session: Session, person: User, name: str | None) -> str | None:
    """Keep ``name`` (an IANA zone, or blank for the shop's) as ``person``'s time zone;
    commits and returns what was kept. An unknown zone raises ``DomainError`` and changes
    nothing."""
    name = (name or "").strip() or None
    if name is not None and name not in known_zones():
        raise DomainError(UNKNOWN_ZONE)
    person.timezone = name
    session.commit()
    return name
