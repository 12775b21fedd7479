"""Saved filters: each person names the filters, search and sort of a list to reopen them.

The storage rules live here (a name per list and person, a limit per list); whether a
query still fits its list is the list view's to say (``console.admin.saved_filters``),
because only the view knows its filters and columns.
"""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.models import SavedFilter, User
from console.models.saved_filters import MAX_NAME_LENGTH, MAX_QUERY_LENGTH
from console.services.errors import DomainError
from console.services.ids import row_id

MAX_PER_LIST = 30
"""Saved filters a person may keep for one list: enough for a working set, few enough
for the menu that lists them."""


def of_list(session: Session, owner: User, endpoint: str) -> list[SavedFilter]:
    """``owner``'s saved filters of the list ``endpoint``, by name."""
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.owner_id == owner.id, SavedFilter.endpoint == endpoint)
            .order_by(func.lower(SavedFilter.name), SavedFilter.id)
        )
    )


def all_of(session: Session, owner: User) -> list[SavedFilter]:
    """Every saved filter of ``owner``'s, by list and name."""
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.owner_id == owner.id)
            .order_by(SavedFilter.endpoint, func.lower(SavedFilter.name), SavedFilter.id)
        )
    )


def own(session: Session, owner: User, saved_id: int) -> SavedFilter | None:
    """The saved filter ``saved_id`` if it is ``owner``'s; None otherwise (also when it is
    someone else's: nobody learns that it exists)."""
    number = row_id(saved_id)
    saved = session.get(SavedFilter, number) if number is not None else None
    return saved if saved is not None and saved.owner_id == owner.id else None


def save(session: Session, owner: User, endpoint: str, name: str | None, query: str) -> SavedFilter:
    """Keep ``query`` of the list ``endpoint`` for ``owner`` under ``name``; commits.

    Raises ``DomainError`` (nothing saved) for a blank or too long name, a name already
    used on this list, a query too long to keep, or a list that already has
    ``MAX_PER_LIST`` saved filters.
    """
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(gettext("Give the saved filter a name."))
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            gettext(
                "A saved filter's name holds at most %(max_name_length)s characters.",
                max_name_length=MAX_NAME_LENGTH,
            )
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise DomainError(gettext("These filters are too long to save; remove some and try again."))
    existing = of_list(session, owner, endpoint)
    if any(saved.name.casefold() == name.casefold() for saved in existing):
        raise DomainError(
            gettext(
                'You already have a saved filter named "%(name)s" on this list; choose another '
                "name, or delete the old one first.",
                name=name,
            )
        )
    if len(existing) >= MAX_PER_LIST:
        raise DomainError(
            gettext(
                "You keep %(max_per_list)s saved filters on this list already; delete one first.",
                max_per_list=MAX_PER_LIST,
            )
        )
    saved = SavedFilter(owner_id=owner.id, endpoint=endpoint, name=name, list_query=query)
    session.add(saved)
    try:
        session.commit()
    except IntegrityError:
        # The same name saved at the same moment from another tab: the database's
        # unique constraint decided; this one keeps nothing.
        session.rollback()
        raise DomainError(
            gettext(
                'You already have a saved filter named "%(name)s" on this list; choose another '
                "name.",
                name=name,
            )
        ) from None
    return saved


def delete(session: Session, saved: SavedFilter) -> None:
    """Forget ``saved``; commits."""
    session.delete(saved)
    session.commit()
