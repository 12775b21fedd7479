"""Internal notes on an order: what staff tell each other about it.

A note is written once and never edited; it is shown in the console only (the order's
timeline), never in a customer's e-mail or an export. Adding a note does not change
the order itself: its version stays, so nobody's open order form or decision goes stale.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import utcnow

if TYPE_CHECKING:
    from console.models.orders import Order
    from console.models.staff import User

MAX_NOTE_LENGTH = 2000
"""Characters a note may hold (after trimming), checked by the form and the database."""


class OrderNote(Model):
    __tablename__ = "order_note"
    __table_args__ = (
        CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),
        CheckConstraint(f"length(body) <= {MAX_NOTE_LENGTH}", name="body_not_too_long"),
        # An order's timeline reads its notes in time order.
        Index("ix_order_note_order_id_created_at", "order_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="RESTRICT"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.current_timestamp()
    )

    order: Mapped[Order] = relationship()
    author: Mapped[User] = relationship()

    # Who added a note to which order. The text stays out of the trail, whose CSV
    # export and archive leave the console; the note row itself is never changed.
    # No ``parent``: a note is not a change of the order (its version must not move).
    __audit__ = AuditSpec(
        "order_note",
        fields=(),
        references={"order_id": "order", "author_id": "author"},
    )

    def __str__(self) -> str:
        number = self.order.number if self.order is not None else "?"
        return f"Note on {number}"
