"""Internal notes on orders: staff with ``orders.write`` add them, on any status.

A note is for staff only. Nothing here queues an e-mail, and no e-mail template or
export reads notes; the order's timeline in the console is where they are shown.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, scoped_session

from console.models import Order, OrderNote, User
from console.models.notes import MAX_NOTE_LENGTH
from console.permissions import ORDERS_WRITE
from console.services.errors import DomainError
from console.services.ids import row_id

__all__ = ["MAX_NOTE_LENGTH", "add_note", "clean_body", "notes_of"]

BLANK_NOTE = "Write the note before adding it."
TOO_LONG = f"A note holds at most {MAX_NOTE_LENGTH} characters; shorten it or add two notes."


def clean_body(body: str | None) -> str:
    """The note as stored: line breaks as ``\\n`` (as the browser counted them), trimmed."""
    return (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def body_problem(body: str) -> str | None:
    """Why ``body`` (already cleaned) cannot be stored, or None."""
    if not body:
        return BLANK_NOTE
    if len(body) > MAX_NOTE_LENGTH:
        return TOO_LONG
    return None


def add_note(
    session: Session | scoped_session[Any], order: Order | int, actor: User, body: str | None
) -> OrderNote:
    """Add ``actor``'s note to ``order`` and commit; the order itself is not changed.

    Raises ``DomainError`` (and changes nothing) when the person may not write orders,
    the order does not exist or the note is blank or too long.
    """
    if actor is None or not actor.active or not actor.has_permission(ORDERS_WRITE):
        raise DomainError(
            gettext(
                "Your role does not allow adding notes to orders (it needs the permission "
                "%(orders_write)s).",
                orders_write=ORDERS_WRITE,
            )
        )
    text = clean_body(body)
    problem = body_problem(text)
    if problem:
        raise DomainError(problem)
    order_id = order.id if isinstance(order, Order) else row_id(order)
    target = None if order_id is None else session.get(Order, order_id)
    if target is None:
        raise DomainError(gettext("This order does not exist (any more)."))
    note = OrderNote(order=target, author=actor, body=text)
    try:
        session.add(note)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return note


def notes_of(
    session: Session | scoped_session[Any], order_id: int, limit: int = 200
) -> list[OrderNote]:
    """The order's notes with their authors, oldest first (the newest ``limit``)."""
    query = (
        select(OrderNote)
        .options(joinedload(OrderNote.author))
        .where(OrderNote.order_id == order_id)
        .order_by(OrderNote.created_at.desc(), OrderNote.id.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))
