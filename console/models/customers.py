"""Customers: the people orders are taken for. They never sign in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin

if TYPE_CHECKING:
    from console.models.orders import Order


class Customer(TimestampMixin, VersionedMixin, Model):
    __tablename__ = "customer"
    __table_args__ = (CheckConstraint("email <> ''", name="email_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")

    __audit__ = AuditSpec(
        "customer", fields=("first_name", "last_name", "email", "phone", "address", "notes")
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"
