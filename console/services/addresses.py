"""Address rules: one default of each kind per customer, and the copy an order keeps.

An order keeps its own copy of its billing and shipping addresses
(``OrderAddressesMixin``): choosing an address of the customer's book copies it, a
one-off address is kept as typed, and an order saved with no address chosen takes
the customer's defaults. Editing the address book afterwards changes no order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from console.models import Customer, CustomerAddress, Order, OrderStatus, PostalAddress
from console.models.addresses import ADDRESS_FIELDS, ADDRESS_KINDS
from console.models.base import word_of
from console.services.errors import DomainError

DEFAULT = "default"
"""Choice: the customer's default address of the kind (none recorded if there is none)."""


@dataclass(frozen=True)
class BookAddress:
    """Choice: the address with this id in the order's customer's address book."""

    id: int


AddressChoice = str | BookAddress | PostalAddress
"""What a person chose for one of an order's addresses: ``DEFAULT``, an address of the
book, or a one-off ``PostalAddress`` typed for this order."""


# --- the address book ------------------------------------------------------------------


def _newly_set(address: CustomerAddress, attribute: str) -> bool:
    state = inspect(address)
    if state.transient or state.pending:
        return True
    history = state.attrs[attribute].history
    return bool(history.has_changes()) and not any(history.deleted)


def settle_defaults(session: Session, customer: Customer) -> None:
    """Keep at most one default billing and one default shipping address.

    Ticking "default" on an address moves the default there: the address that was the
    default stops being it. Ticking it on two addresses in one save is refused, since
    the console cannot know which one was meant. Call it before the address book is
    flushed; raises ``DomainError`` (the caller rolls back).

    The database keeps one default per customer through a unique index that it checks
    row by row: moving a default from one stored address to another is written in
    two steps (the old one cleared first), whatever order the rows are updated in.
    """
    moved: list[tuple[CustomerAddress, str]] = []
    with session.no_autoflush:
        live = [a for a in customer.addresses if a not in session.deleted]
        for kind in ADDRESS_KINDS:
            attribute = f"is_default_{kind}"
            ticked = [a for a in live if getattr(a, attribute)]
            if len(ticked) <= 1:
                continue
            newly = [a for a in ticked if _newly_set(a, attribute)]
            if len(newly) != 1:
                shown = "; ".join(str(a) for a in (newly or ticked))
                raise DomainError(
                    gettext(
                        "Only one address can be the default %(kind)s address; it is ticked on "
                        "%(count)s: %(shown)s. Tick it on one address only. Nothing was saved.",
                        kind=kind,
                        count=len(newly or ticked),
                        shown=shown,
                    )
                )
            for address in ticked:
                if address is not newly[0]:
                    setattr(address, attribute, False)
            if inspect(newly[0]).persistent:
                moved.append((newly[0], attribute))
    if moved:
        for address, attribute in moved:
            setattr(address, attribute, False)
        session.flush()
        for address, attribute in moved:
            setattr(address, attribute, True)


def check_address(address: PostalAddress) -> PostalAddress:
    """``address`` trimmed, or ``DomainError`` naming what it lacks or what is wrong."""
    cleaned = address.cleaned()
    problems = cleaned.problems()
    if problems:
        raise DomainError(" ".join(problems.values()) + " Nothing was saved.")
    return cleaned


def address_book(customer: Customer) -> dict[str, Any]:
    """The customer's addresses and defaults as JSON data, for the order form's pickers."""
    return {
        "customer": customer.id,
        "addresses": [
            {
                "id": address.id,
                "label": str(address),
                "fields": {name: getattr(address, name) or "" for name in ADDRESS_FIELDS},
                "default_billing": address.is_default_billing,
                "default_shipping": address.is_default_shipping,
            }
            for address in customer.addresses
        ],
        "default_billing": _id_or_none(customer.default_address("billing")),
        "default_shipping": _id_or_none(customer.default_address("shipping")),
    }


def _id_or_none(address: CustomerAddress | None) -> int | None:
    return address.id if address is not None else None


# --- the order's copy ------------------------------------------------------------------


def _may_change(order: Order) -> bool:
    state = inspect(order)
    return state.transient or state.pending or order.status == OrderStatus.PENDING


def choose_order_address(order: Order, kind: str, choice: AddressChoice) -> None:
    """Copy the chosen ``kind`` address into ``order``.

    ``DEFAULT`` copies the customer's default (or records none when the customer has
    none); a ``BookAddress`` must belong to the order's customer; a one-off address
    must be complete. Only a pending order's addresses change. Raises ``DomainError``.
    """
    if kind not in ADDRESS_KINDS:
        raise ValueError(gettext("unknown address kind %(kind)s", kind=repr(kind)))
    if not _may_change(order):
        raise DomainError(
            gettext(
                "Order %(number)s is %(status)s: its addresses can only be changed while it is "
                "pending.",
                number=order.number,
                status=word_of(OrderStatus, order.status),
            )
        )
    customer = order.customer
    if isinstance(choice, BookAddress):
        book = {a.id: a for a in customer.addresses} if customer is not None else {}
        chosen = book.get(choice.id)
        if chosen is None:
            raise DomainError(
                gettext(
                    "The %(kind)s address chosen is not one of this customer's addresses; choose "
                    "one of theirs or type a one-off address. Nothing was saved.",
                    kind=kind,
                )
            )
        order.keep_address(kind, chosen.postal())
    elif isinstance(choice, PostalAddress):
        order.keep_address(kind, check_address(choice))
    elif choice == DEFAULT:
        default = customer.default_address(kind) if customer is not None else None
        order.keep_address(kind, default.postal() if default is not None else None)
    else:
        raise ValueError(gettext("unknown address choice %(choice)s", choice=repr(choice)))


def fill_missing_addresses(order: Order) -> None:
    """Give an order saved with no ``kind`` address the customer's default of that kind."""
    if order.customer is None or not _may_change(order):
        return
    for kind in ADDRESS_KINDS:
        if order.address(kind) is None:
            default = order.customer.default_address(kind)
            if default is not None:
                order.keep_address(kind, default.postal())
