"""Orders to invoice, and PDFs read back as text, for the document tests."""

from __future__ import annotations

import io

from pypdf import PdfReader

from console.database import db
from console.models import Order, User
from console.services import workflow
from tests.factories import OrderFactory, StaffFactory
from tests.pricing_support import promotion

BILLING = {
    "billing_name": "Ada Lovelace",
    "billing_company": "Analytical Engines Ltd",
    "billing_line1": "1 Korenmarkt",
    "billing_postal_code": "9000",
    "billing_city": "Ghent",
    "billing_country": "BE",
}
SHIPPING = {
    "shipping_name": "Ada Lovelace",
    "shipping_line1": "12 Rue de la République",
    "shipping_postal_code": "69002",
    "shipping_city": "Lyon",
    "shipping_country": "FR",
}


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of the PDF ``data`` (pypdf's extraction)."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


def staff() -> dict[str, User]:
    """A clerk who takes and ships orders, a manager who approves them."""
    return {
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
    }


def taxed_order(people: dict[str, User], shop: dict) -> Order:
    """An approved order with a 10 % code, two tax rates, shipping and both addresses:
    2 kettles at 39.90 (20 %) and 3 teas at 4.35 (5.5 %), by Courier (12.00)."""
    promotion("TEN")
    order = OrderFactory(
        customer=shop["ada"],
        lines={shop["kettle"]: 2, shop["tea"]: 3},
        coupon_code="TEN",
        shipping_method=shop["courier"],
        actor=people["clerk"],
        **BILLING,
        **SHIPPING,
    )
    workflow.approve(db.session, order.id, people["manager"])
    return order


def approved_orders(people: dict[str, User], shop: dict, count: int) -> list[int]:
    """``count`` approved one-line orders (a kettle each); their ids."""
    ids = []
    for _ in range(count):
        order = OrderFactory(
            customer=shop["bob"], lines={shop["kettle"]: 1}, actor=people["clerk"], **SHIPPING
        )
        workflow.approve(db.session, order.id, people["manager"])
        ids.append(order.id)
    return ids
