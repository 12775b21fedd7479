"""Customers: the people orders are taken for. They never sign in."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from console.database import Model
from console.models.audit_spec import AuditSpec
from console.models.base import TimestampMixin, VersionedMixin

if TYPE_CHECKING:
    from console.models.addresses import CustomerAddress
    from console.models.orders import Order


_NOT_DECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d"})
_WORD_BREAK = re.compile(r"[^\w.+]+")
SEARCH_TEXT_LENGTH = 600


def search_words(text: str | None) -> list[str]:
    """``text`` as the words a search matches: lower-case, without accents.

    "Müller" and "Muller" give ``["muller"]``; "Curie-Sklodowska" gives
    ``["curie", "sklodowska"]``; "ada@example.com" gives ``["ada", "example.com"]``.
    """
    folded = unicodedata.normalize("NFKD", (text or "").casefold().translate(_NOT_DECOMPOSED))
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return [word for word in _WORD_BREAK.split(plain) if word]


def search_text_of(first_name: str | None, last_name: str | None, email: str | None) -> str:
    """A customer's ``search_text``: the words of the names and e-mail (``search_words``)."""
    words = search_words(" ".join(part or "" for part in (first_name, last_name, email)))
    return " ".join(words)[:SEARCH_TEXT_LENGTH]


class Customer(TimestampMixin, VersionedMixin, Model):
    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint("email <> ''", name="email_not_empty"),
        # Prefix matches of the customer picker (``LIKE 'word%'``) on PostgreSQL too,
        # whatever the database's collation.
        Index(
            "ix_customer_search_text",
            "search_text",
            postgresql_ops={"search_text": "varchar_pattern_ops"},
        ),
        # The API's ``updated_since``, for clients that sync.
        Index("ix_customer_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    """Free text typed before the address book existed; kept as it was, shown read-only.

    Orders never use it: their addresses come from ``addresses``. The migration that
    brought the address book could not know the country of this text, so it left it
    for a person to copy into a structured address.
    """
    notes: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    """The language the customer's e-mails and order page are written in (``en``,
    ``de``, ``fr``); None: the shop's (``DEFAULT_LOCALE``, ``console.i18n``)."""
    search_text: Mapped[str] = mapped_column(
        String(SEARCH_TEXT_LENGTH), default="", server_default=""
    )
    """"first last email" without accents, lower-cased: what the customer picker matches.

    Kept by the model whenever a name or the e-mail is set (``_keep_search_text``), and
    by bulk writes with ``search_text_of``.
    """

    orders: Mapped[list[Order]] = relationship(back_populates="customer")
    addresses: Mapped[list[CustomerAddress]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CustomerAddress.id",
    )
    """The address book, oldest first (the database deletes it with the customer)."""

    __audit__ = AuditSpec(
        "customer",
        fields=("first_name", "last_name", "email", "phone", "address", "notes", "language"),
        # A change of the address book is a change of the customer: it moves the version.
        owned_collections=("addresses",),
    )

    def default_address(self, kind: str) -> CustomerAddress | None:
        """The default ``kind`` ("billing" or "shipping") address, or None."""
        return next((a for a in self.addresses if a.is_default(kind)), None)

    @validates("first_name", "last_name", "email")
    def _keep_search_text(self, key: str, value: str | None) -> str | None:
        parts: dict[str, str | None] = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
        }
        parts[key] = value
        self.search_text = search_text_of(**parts)
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"
