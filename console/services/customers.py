"""Customer rules: what may happen to a customer record."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.models import Customer, Order
from console.services.errors import DomainError


def ensure_deletable(session: Session, customer: Customer) -> None:
    """Refuse to delete a customer who has orders, saying why and what to do instead.

    Orders keep their customer for the order history, invoices and the audit trail, so
    such a customer stays; the database would refuse the delete anyway, but only with a
    message nobody can act on.
    """
    orders = session.scalar(
        select(func.count()).select_from(Order).where(Order.customer_id == customer.id)
    )
    if orders:
        noun = "order" if orders == 1 else "orders"
        raise DomainError(
            gettext(
                "Cannot delete %(full_name)s: this customer has %(orders)s %(noun)s, which keep "
                "their customer for the order history. Keep the record instead; to stop using it, "
                "edit it and say so in its notes (or correct its details).",
                full_name=customer.full_name,
                orders=orders,
                noun=noun,
            )
        )
