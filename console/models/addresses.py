"""Postal addresses: a customer's address book, and the copy an order keeps.

A customer keeps any number of structured addresses (``CustomerAddress``), at most one
of them the default billing address and one the default shipping address. An order
does not point at them: it keeps a snapshot of its billing and shipping addresses in
its own columns (``OrderAddressesMixin``), so that a later edit of the customer's
address book changes no order taken, no e-mail and no export.

Countries are ISO 3166-1 alpha-2 codes (``FR``), checked against pycountry's list by
the forms and the services, and by the database for their shape (two upper-case
characters).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import pycountry
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.audit_spec import AuditSpec

if TYPE_CHECKING:
    from console.models.customers import Customer

NAME_LENGTH = 120
LINE_LENGTH = 200
POSTAL_CODE_LENGTH = 20
CITY_LENGTH = 100
REGION_LENGTH = 100
PHONE_LENGTH = 40

ADDRESS_FIELDS: tuple[str, ...] = (
    "name",
    "company",
    "line1",
    "line2",
    "postal_code",
    "city",
    "region",
    "country",
    "phone",
)
"""The parts of an address, in the order a label prints them."""

REQUIRED_FIELDS: tuple[str, ...] = ("name", "line1", "postal_code", "city", "country")
"""What an address must have to be delivered to; company, line 2, region and phone
are optional."""

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "company": "Company",
    "line1": "Line 1",
    "line2": "Line 2",
    "postal_code": "Postal code",
    "city": "City",
    "region": "Region",
    "country": "Country",
    "phone": "Phone",
}

ADDRESS_KINDS: tuple[str, ...] = ("billing", "shipping")
"""The two addresses of an order, and the two defaults of an address book."""


def country_check(column: str, *, nullable: bool) -> str:
    """SQL that holds when ``column`` is two upper-case characters (or NULL if allowed)."""
    shape = f"length({column}) = 2 AND upper({column}) = {column}"
    return f"{column} IS NULL OR ({shape})" if nullable else shape


def country_name(code: str | None) -> str | None:
    """The country's common English name (``"FR"`` -> ``"France"``), None if unknown."""
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


def is_country_code(code: str | None) -> bool:
    """True for an ISO 3166-1 alpha-2 code pycountry knows, in upper case."""
    return bool(code) and code == code.upper() and country_name(code) is not None  # type: ignore[union-attr]


@dataclass(frozen=True)
class PostalAddress:
    """An address as a value: what an order keeps and what e-mails and exports show."""

    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, record: object, prefix: str = "") -> PostalAddress:
        """The address held by ``record``'s attributes ``<prefix><field>``."""
        return cls(**{name: getattr(record, prefix + name) for name in ADDRESS_FIELDS})

    def cleaned(self) -> PostalAddress:
        """Each part trimmed (empty text becomes None), the country code upper-cased."""
        values: dict[str, str | None] = {}
        for name in ADDRESS_FIELDS:
            value = getattr(self, name)
            value = value.strip() if isinstance(value, str) else value
            values[name] = value or None
        if values["country"]:
            values["country"] = values["country"].upper()
        return replace(self, **values)

    @property
    def is_blank(self) -> bool:
        return all(getattr(self, f.name) in (None, "") for f in fields(self))

    def problems(self) -> dict[str, str]:
        """Field -> what is wrong with it; empty when the address can be stored."""
        found = {
            name: f"{FIELD_LABELS[name]} is required for an address."
            for name in REQUIRED_FIELDS
            if not getattr(self, name)
        }
        if self.country and not is_country_code(self.country):
            found["country"] = unknown_country_message(self.country)
        return found

    @property
    def country_name(self) -> str | None:
        return country_name(self.country) or self.country

    def lines(self) -> list[str]:
        """The address as printed on a label, one part per line."""
        town = " ".join(part for part in (self.postal_code, self.city) if part)
        parts = [
            self.name,
            self.company,
            self.line1,
            self.line2,
            town,
            self.region,
            self.country_name,
        ]
        shown = [part for part in parts if part]
        if self.phone:
            shown.append(f"Phone: {self.phone}")
        return shown

    def one_line(self) -> str:
        """The address on one line, the country as its code (exports)."""
        town = " ".join(part for part in (self.postal_code, self.city) if part)
        parts = [
            self.name,
            self.company,
            self.line1,
            self.line2,
            town,
            self.region,
            self.country,
        ]
        text_ = ", ".join(part for part in parts if part)
        return f"{text_} (phone {self.phone})" if self.phone else text_


def unknown_country_message(code: str) -> str:
    shown = code[:10]
    return f"{shown!r} is not an ISO 3166 country code; choose the country from the list."


class CustomerAddress(Model):
    """One address of a customer's address book."""

    __tablename__ = "customer_address"
    __table_args__ = (
        # At most one default billing and one default shipping address per customer.
        # Partial unique indexes: SQLite and PostgreSQL both have them.
        Index(
            "uq_customer_address_default_billing",
            "customer_id",
            unique=True,
            sqlite_where=text("is_default_billing"),
            postgresql_where=text("is_default_billing"),
        ),
        Index(
            "uq_customer_address_default_shipping",
            "customer_id",
            unique=True,
            sqlite_where=text("is_default_shipping"),
            postgresql_where=text("is_default_shipping"),
        ),
        CheckConstraint(country_check("country", nullable=False), name="country_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    company: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    line1: Mapped[str] = mapped_column(String(LINE_LENGTH))
    line2: Mapped[str | None] = mapped_column(String(LINE_LENGTH))
    postal_code: Mapped[str] = mapped_column(String(POSTAL_CODE_LENGTH))
    city: Mapped[str] = mapped_column(String(CITY_LENGTH))
    region: Mapped[str | None] = mapped_column(String(REGION_LENGTH))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))
    is_default_billing: Mapped[bool] = mapped_column(default=False, server_default=false())
    is_default_shipping: Mapped[bool] = mapped_column(default=False, server_default=false())

    customer: Mapped[Customer] = relationship(back_populates="addresses")

    __audit__ = AuditSpec(
        "customer_address",
        fields=(*ADDRESS_FIELDS, "is_default_billing", "is_default_shipping"),
        parent=("customer", "customer_id", "customer"),
    )

    def postal(self) -> PostalAddress:
        return PostalAddress.of(self)

    def is_default(self, kind: str) -> bool:
        return bool(getattr(self, f"is_default_{kind}"))

    def __str__(self) -> str:
        return self.postal().one_line() or "new address"


class OrderAddressesMixin:
    """An order's billing and shipping addresses, copied when the order is saved.

    Plain columns (``billing_city``, ``shipping_country``...) rather than a link to the
    address book: the copy is what the customer was told and what was shipped to,
    and the columns keep exports and searches simple. All NULL: no address recorded.
    """

    billing_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    billing_company: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    billing_line1: Mapped[str | None] = mapped_column(String(LINE_LENGTH))
    billing_line2: Mapped[str | None] = mapped_column(String(LINE_LENGTH))
    billing_postal_code: Mapped[str | None] = mapped_column(String(POSTAL_CODE_LENGTH))
    billing_city: Mapped[str | None] = mapped_column(String(CITY_LENGTH))
    billing_region: Mapped[str | None] = mapped_column(String(REGION_LENGTH))
    billing_country: Mapped[str | None] = mapped_column(
        String(2),
        CheckConstraint(country_check("billing_country", nullable=True), name="billing_country"),
    )
    billing_phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))

    shipping_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    shipping_company: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    shipping_line1: Mapped[str | None] = mapped_column(String(LINE_LENGTH))
    shipping_line2: Mapped[str | None] = mapped_column(String(LINE_LENGTH))
    shipping_postal_code: Mapped[str | None] = mapped_column(String(POSTAL_CODE_LENGTH))
    shipping_city: Mapped[str | None] = mapped_column(String(CITY_LENGTH))
    shipping_region: Mapped[str | None] = mapped_column(String(REGION_LENGTH))
    shipping_country: Mapped[str | None] = mapped_column(
        String(2),
        CheckConstraint(country_check("shipping_country", nullable=True), name="shipping_country"),
    )
    shipping_phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))

    def address(self, kind: str) -> PostalAddress | None:
        """The ``kind`` ("billing" or "shipping") address kept, or None when none was."""
        kept = PostalAddress.of(self, f"{kind}_")
        return None if kept.is_blank else kept

    def keep_address(self, kind: str, address: PostalAddress | None) -> None:
        """Copy ``address`` into the order's ``kind`` columns (None clears them)."""
        for name in ADDRESS_FIELDS:
            setattr(self, f"{kind}_{name}", getattr(address, name) if address else None)

    @property
    def billing_address(self) -> PostalAddress | None:
        return self.address("billing")

    @property
    def shipping_address(self) -> PostalAddress | None:
        return self.address("shipping")


ORDER_ADDRESS_COLUMNS: tuple[str, ...] = tuple(
    f"{kind}_{name}" for kind in ADDRESS_KINDS for name in ADDRESS_FIELDS
)
"""Every snapshot column of an order, billing first."""
