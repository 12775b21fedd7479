"""Issued documents: invoices and credit notes, and the counters that number them.

An issued document keeps everything it shows as values (``content``: seller, addresses,
lines, taxes, totals, as text and Decimal strings) together with the PDF rendered from
them, so that it reads the same in ten years whatever happens to the order, the
catalogue or the settings. It never changes after issue: the mapper refuses an UPDATE
or DELETE of one (``_refuse_change``) and so does the database (triggers of migration
0023). A correction is a credit note, numbered in its own series.

Numbers are gapless per series and calendar year (``INV-2026-000001``): one
``DocumentCounter`` row per series and year, incremented inside the transaction that
issues the document (``console.services.documents.allocate_number``).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import utcnow
from console.models.products import MONEY

if TYPE_CHECKING:
    from console.models.orders import Order
    from console.models.staff import User


class DocumentSeries(enum.StrEnum):
    """A numbering series: its value starts every number of the series."""

    INVOICE = "INV"
    CREDIT_NOTE = "CN"


NUMBER_DIGITS = 6
"""``INV-2026-000001``: the sequence within the year, zero-padded."""


def document_number(series: str, year: int, sequence: int) -> str:
    """``("INV", 2026, 1)`` -> ``"INV-2026-000001"``."""
    return f"{series}-{year}-{sequence:0{NUMBER_DIGITS}d}"


class DocumentCounter(Model):
    """The last number given in one series and year; rows are created on first use."""

    __tablename__ = "document_counter"
    __table_args__ = (CheckConstraint("last_number > 0", name="last_number_positive"),)

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column()


class ImmutableDocument(RuntimeError):
    """Code tried to change or delete an issued document (a programming error)."""


class IssuedDocumentMixin:
    """What every issued document has: number, order, issue, totals, content and PDF."""

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    """When it was issued (UTC); its year is the year of the number."""
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MONEY)
    """The document's total, as printed (also in ``content``), for lists and sums."""
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Everything the document shows, as values (amounts as ``"12.30"`` strings)."""
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """The PDF as issued (sent to the customer; downloaded as is)."""

    @declared_attr
    def order_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy's declared_attr signature
        return mapped_column(ForeignKey("sales_order.id", ondelete="RESTRICT"), index=True)

    @declared_attr
    def issued_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    @property
    def file_name(self) -> str:
        """``INV-2026-000001.pdf``: the name it downloads and is attached under."""
        return f"{self.number}.pdf"

    def __str__(self) -> str:
        return self.number


class Invoice(IssuedDocumentMixin, Model):
    """The invoice of an order, issued when it ships (or is approved, ``INVOICE_ON``)."""

    __tablename__ = "invoice"
    __table_args__ = (CheckConstraint("total >= 0", name="total_not_negative"),)

    order: Mapped[Order] = relationship()
    issued_by: Mapped[User | None] = relationship()

    __audit__ = AuditSpec("invoice", fields=("number", "total"), references={"order_id": "order"})


class CreditNote(IssuedDocumentMixin, Model):
    """A credit against an order's invoice: lines or amounts given back, and why."""

    __tablename__ = "credit_note"
    __table_args__ = (CheckConstraint("total >= 0", name="total_not_negative"),)

    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="RESTRICT"), index=True
    )
    """The invoice it corrects (None for an order shipped before invoices existed)."""
    reason: Mapped[str] = mapped_column(Text)

    order: Mapped[Order] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    issued_by: Mapped[User | None] = relationship()

    __audit__ = AuditSpec(
        "credit_note",
        fields=("number", "total", "reason"),
        references={"order_id": "order", "invoice_id": "invoice"},
    )


def _refusal(document: IssuedDocumentMixin) -> ImmutableDocument:
    return ImmutableDocument(
        f"{document.number} is issued and never changes; issue a credit note to correct it."
    )


@event.listens_for(Invoice, "before_update")
@event.listens_for(CreditNote, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, document: IssuedDocumentMixin) -> None:
    """An issued document is never changed; a credit note corrects it.

    (A flush may visit an unchanged document, one merely related to a changed row:
    only a real change of a column is refused.)
    """
    session = inspect(document).session
    if session is None or session.is_modified(document, include_collections=False):
        raise _refusal(document)


@event.listens_for(Invoice, "before_delete")
@event.listens_for(CreditNote, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, document: IssuedDocumentMixin) -> None:
    """An issued document is never deleted: its number would leave a gap."""
    raise _refusal(document)
