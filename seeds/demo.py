"""Idempotent demo data: staff per role, customers, products and orders.

Every record is found by its natural key (role name, e-mail, SKU, order number) and
created only when missing, so running the seed twice changes nothing. Values come from
a fixed random seed, so every machine gets the same demo shop.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_security import hash_password
from sqlalchemy import func, select

from console.database import db
from console.models import (
    Customer,
    CustomerAddress,
    Invoice,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Promotion,
    PromotionKind,
    Return,
    Role,
    ShippingMethod,
    TaxRate,
    User,
)
from console.models.addresses import ADDRESS_KINDS
from console.models.base import utcnow
from console.permissions import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS
from console.services import returns as return_service
from console.services import stock as stock_service
from console.services.documents import invoice_of, issue_invoice
from console.services.orders import price_order

# Development-only credentials, documented in README.md. The seed refuses to run under
# the production configuration unless forced.
DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "admin": ("admin@example.com", "admin-demo-password"),
    "manager": ("manager@example.com", "manager-demo-password"),
    "clerk": ("clerk@example.com", "clerk-demo-password"),
    "viewer": ("viewer@example.com", "viewer-demo-password"),
}

N_CUSTOMERS = 50
N_PRODUCTS = 40
N_ORDERS = 200
DEMO_ORDER_PREFIX = "DEMO-"

FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lena",
    "Marco",
    "Nora",
    "Omar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Ugo",
    "Vera",
    "Wim",
    "Xenia",
    "Yusuf",
    "Zoé",
]
LAST_NAMES = [
    "Andersen",
    "Bianchi",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lambert",
    "Müller",
    "Novak",
    "O'Brien",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urban",
    "Virtanen",
    "Weber",
    "Yilmaz",
    "Zimmer",
]
STREETS = ["Market St", "Harbour Rd", "Linden Ave", "Mill Lane", "Station Sq", "Oak Row"]
CITIES = ["Lyon", "Porto", "Ghent", "Graz", "Turku", "Bergen", "Cork", "Brno"]
# Each demo city's country and a postal code of it.
CITY_POSTAL = {
    "Lyon": ("69002", "FR"),
    "Porto": ("4050-001", "PT"),
    "Ghent": ("9000", "BE"),
    "Graz": ("8010", "AT"),
    "Turku": ("20100", "FI"),
    "Bergen": ("5003", "NO"),
    "Cork": ("T12 X70A", "IE"),
    "Brno": ("602 00", "CZ"),
}
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Heavy-duty", "Mini", "Pro", "Smart"]
NOUNS = [
    "Kettle",
    "Desk Lamp",
    "Backpack",
    "Notebook",
    "Water Bottle",
    "Headphones",
    "Coffee Grinder",
    "Umbrella",
    "Chair Cushion",
    "Cutting Board",
]

TAX_RATES = {"Standard": Decimal("20.00"), "Reduced": Decimal("5.50"), "Zero": Decimal("0.00")}
"""Demo tax rates by name ("Zero" is also made by the migration that brought tax rates)."""

SHIPPING_METHODS = {
    "Standard delivery": (Decimal("4.90"), Decimal("50.00")),
    "Express delivery": (Decimal("12.00"), None),
}
"""Demo shipping methods: name -> (price, free from this subtotal)."""

PROMOTIONS = {
    "WELCOME10": {
        "kind": PromotionKind.PERCENTAGE,
        "value": Decimal("10"),
        "per_customer_limit": 1,
    },
    "FIVEOFF": {
        "kind": PromotionKind.FIXED,
        "value": Decimal("5.00"),
        "minimum_subtotal": Decimal("30.00"),
    },
    "SUMMER2025": {
        "kind": PromotionKind.PERCENTAGE,
        "value": Decimal("15"),
        "valid_from": dt.datetime(2025, 6, 1),
        "valid_until": dt.datetime(2025, 8, 31, 23, 59, 59),
    },
}
"""Demo promotion codes: a welcome code, a fixed amount off above 30, an expired one."""

# How the 200 demo orders spread over the statuses: every status is represented.
STATUS_WEIGHTS = {
    OrderStatus.PENDING: 50,
    OrderStatus.APPROVED: 40,
    OrderStatus.SHIPPED: 35,
    OrderStatus.DELIVERED: 45,
    OrderStatus.REJECTED: 15,
    OrderStatus.CANCELLED: 15,
}


@dataclass
class SeedReport:
    """What one run of the seed created."""

    roles: int = 0
    staff: int = 0
    customers: int = 0
    addresses: int = 0
    products: int = 0
    orders: int = 0
    pricing: int = 0
    """Tax rates, shipping methods and promotion codes."""
    invoices: int = 0
    returns: int = 0
    """Returned, received and refunded demo orders (one, with its credit note)."""

    @property
    def created_anything(self) -> bool:
        return any(
            (
                self.roles,
                self.staff,
                self.customers,
                self.addresses,
                self.products,
                self.orders,
                self.pricing,
                self.invoices,
                self.returns,
            )
        )


def seed_roles(report: SeedReport) -> dict[str, Role]:
    """The four default roles; existing roles (and an admin's edits of them) are kept."""
    roles = {}
    for name, permissions in ROLE_PERMISSIONS.items():
        role = db.session.scalar(select(Role).filter_by(name=name))
        if role is None:
            role = current_app.extensions["security"].datastore.create_role(
                name=name,
                description=ROLE_DESCRIPTIONS[name],
                permissions=sorted(permissions),
            )
            report.roles += 1
        roles[name] = role
    return roles


def seed_staff(report: SeedReport, roles: dict[str, Role]) -> dict[str, User]:
    """One demo staff account per role."""
    staff = {}
    for role_name, (email, password) in DEMO_ACCOUNTS.items():
        user = current_app.extensions["security"].datastore.find_user(email=email)
        if user is None:
            user = current_app.extensions["security"].datastore.create_user(
                email=email, password=hash_password(password), active=True, roles=[roles[role_name]]
            )
            report.staff += 1
        staff[role_name] = user
    return staff


def seed_customers(report: SeedReport, rng: random.Random) -> list[Customer]:
    """50 customers, each with an address book: one address, the default of both kinds.

    A demo customer found without any address (seeded before the address book) gets
    one; one who has addresses keeps them as they are.
    """
    customers = []
    existing = {c.email: c for c in db.session.scalars(select(Customer))}
    for i in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"customer{i:03d}@example.com"
        phone = f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {i:02d}"
        street = f"{rng.randint(1, 200)} {rng.choice(STREETS)}"
        city = rng.choice(CITIES)
        customer = existing.get(email)
        if customer is None:
            customer = Customer(first_name=first, last_name=last, email=email, phone=phone)
            db.session.add(customer)
            report.customers += 1
        if not customer.addresses:
            postal_code, country = CITY_POSTAL[city]
            customer.addresses.append(
                CustomerAddress(
                    name=customer.full_name,
                    line1=street,
                    postal_code=postal_code,
                    city=city,
                    country=country,
                    phone=customer.phone,
                    is_default_billing=True,
                    is_default_shipping=True,
                )
            )
            report.addresses += 1
        customers.append(customer)
    return customers


def seed_pricing(report: SeedReport) -> tuple[dict[str, TaxRate], list[ShippingMethod]]:
    """Tax rates, shipping methods and promotion codes, found by name or code."""
    rates = {rate.name: rate for rate in db.session.scalars(select(TaxRate))}
    for name, rate in TAX_RATES.items():
        if name not in rates:
            rates[name] = TaxRate(name=name, rate=rate)
            db.session.add(rates[name])
            report.pricing += 1
    methods = {method.name: method for method in db.session.scalars(select(ShippingMethod))}
    for name, (price, free_above) in SHIPPING_METHODS.items():
        if name not in methods:
            methods[name] = ShippingMethod(name=name, price=price, free_above=free_above)
            db.session.add(methods[name])
            report.pricing += 1
    codes = {code.lower() for code in db.session.scalars(select(Promotion.code))}
    for code, terms in PROMOTIONS.items():
        if code.lower() not in codes:
            db.session.add(Promotion(code=code, **terms))
            report.pricing += 1
    return rates, [methods[name] for name in SHIPPING_METHODS]


def _tax_rate_name(i: int) -> str:
    """Most demo products at the standard rate, some reduced, a few untaxed."""
    if i % 7 == 0:
        return "Zero"
    return "Reduced" if i % 5 == 0 else "Standard"


def seed_products(
    report: SeedReport, rng: random.Random, rates: dict[str, TaxRate]
) -> list[Product]:
    products = []
    existing = {p.sku: p for p in db.session.scalars(select(Product))}
    for i in range(1, N_PRODUCTS + 1):
        sku = f"SKU-{i:04d}"
        name = f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[i % len(NOUNS)]}"
        price = Decimal(rng.randint(199, 24999)) / 100
        # A few products run low so that stock problems show in the demo.
        stock = rng.choice([0, 2, 5]) if i % 10 == 0 else rng.randint(20, 300)
        product = existing.get(sku)
        if product is None:
            product = Product(
                sku=sku,
                name=name,
                description=f"{name}, demo catalogue item {i}.",
                unit_price=price,
                stock=stock,
                active=i % 13 != 0,
                tax_rate=rates[_tax_rate_name(i)],
            )
            db.session.add(product)
            # Through the ledger, so that the stock is explained by its movements.
            stock_service.record_initial_stock(db.session, product, None)
            report.products += 1
        products.append(product)
    return products


def _status_sequence(rng: random.Random) -> list[OrderStatus]:
    statuses = [s for s, weight in STATUS_WEIGHTS.items() for _ in range(weight)]
    assert len(statuses) == N_ORDERS
    rng.shuffle(statuses)
    return statuses


def seed_orders(
    report: SeedReport,
    rng: random.Random,
    customers: list[Customer],
    products: list[Product],
    staff: dict[str, User],
    shipping: list[ShippingMethod],
) -> None:
    """200 orders over every status, priced as the console prices them."""
    existing = set(
        db.session.scalars(select(Order.number).where(Order.number.like(f"{DEMO_ORDER_PREFIX}%")))
    )
    now = utcnow().replace(microsecond=0)
    clerk, manager = staff["clerk"], staff["manager"]
    for i, status in enumerate(_status_sequence(rng), start=1):
        number = f"{DEMO_ORDER_PREFIX}{i:04d}"
        # Draw the same random values whether or not the order exists, so that each
        # order's content does not depend on which others were already there.
        customer = rng.choice(customers)
        chosen = rng.sample([p for p in products if p.active], k=rng.randint(1, 4))
        quantities = [rng.randint(1, 5) for _ in chosen]
        created_at = now - dt.timedelta(days=rng.randint(0, 89), minutes=rng.randint(0, 1439))
        if number in existing:
            continue
        lines = [OrderLine(product=p, quantity=q) for p, q in zip(chosen, quantities, strict=True)]
        order = Order(
            number=number,
            customer=customer,
            status=status.value,
            lines=lines,
            # One order in five is collected in the shop: no shipping method.
            shipping_method=shipping[i % 2] if i % 5 else None,
            created_by=clerk,
            created_at=created_at,
            updated_at=created_at,
        )
        for kind in ADDRESS_KINDS:
            default = customer.default_address(kind)
            order.keep_address(kind, default.postal() if default is not None else None)
        price_order(db.session, order, created=True)
        _apply_history(order, status, manager, created_at, i)
        db.session.add(order)
        report.orders += 1


def _apply_history(
    order: Order, status: OrderStatus, manager: User, created_at: dt.datetime, i: int
) -> None:
    """Fill the decision and fulfilment fields an order in ``status`` would have."""
    decided_at = created_at + dt.timedelta(hours=3)
    if status in (OrderStatus.APPROVED, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        order.decided_by, order.decided_at = manager, decided_at
    if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        order.tracking_number = f"TRK{i:08d}"
        order.shipped_at = decided_at + dt.timedelta(days=1)
    if status == OrderStatus.DELIVERED:
        order.delivered_at = decided_at + dt.timedelta(days=3)
    if status == OrderStatus.REJECTED:
        order.decided_by, order.decided_at = manager, decided_at
        order.rejection_reason = "Customer's delivery address could not be verified."
    if status == OrderStatus.CANCELLED:
        order.cancelled_at = decided_at


DEMO_INVOICES = 12
"""Demo orders shipped most recently that have their invoice. The demo shop started
invoicing with them: older demo shipments went out before, as the orders the invoice
migration found already shipped (docs/documents.md), and rendering a PDF for each of
the hundreds of seeded shipments would slow every seed for no more to look at."""


def seed_invoices(report: SeedReport, clerk: User) -> None:
    """An invoice for each of the ``DEMO_INVOICES`` demo orders shipped last that has
    none, in the order they shipped. They are issued now (dated the day the seed runs),
    as the console issues them: numbered, rendered, immutable."""
    invoiced = (OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value)
    latest = (
        select(Order.id)
        .where(Order.number.like(f"{DEMO_ORDER_PREFIX}%"), Order.status.in_(invoiced))
        .order_by(Order.shipped_at.desc(), Order.id.desc())
        .limit(DEMO_INVOICES)
    )
    shipped = db.session.scalars(
        select(Order).where(Order.id.in_(latest)).order_by(Order.shipped_at, Order.id)
    )
    for order in shipped:
        if invoice_of(db.session, order.id) is None:
            issue_invoice(db.session, order, clerk)
            report.invoices += 1


def seed_return(report: SeedReport, staff: dict[str, User]) -> None:
    """One returned order, as the console handles it: the clerk records and receives a
    return of one unit of an invoiced demo order (back to stock), the manager refunds
    it with its shipping, which issues a credit note. Once: never when a return exists.

    Each step is the returns service's own transaction (audit, e-mail, webhook event).
    """
    if db.session.scalar(select(Return.id).limit(1)) is not None:
        return
    order = db.session.scalars(
        select(Order)
        .join(Invoice, Invoice.order_id == Order.id)
        .where(Order.number.like(f"{DEMO_ORDER_PREFIX}%"))
        .order_by(Order.shipped_at.desc(), Order.id.desc())
        .limit(1)
    ).first()
    if order is None:
        return
    clerk, manager = staff["clerk"], staff["manager"]
    line = order.lines[0]
    requested = return_service.request_return(
        db.session,
        order.id,
        clerk,
        [return_service.RequestedLine(line.id, 1)],
        "Arrived with a cracked case; the customer sent it back.",
    )
    return_service.receive(db.session, requested.id, clerk, {requested.lines[0].id: "restock"})
    return_service.refund(db.session, requested.id, manager, shipping=order.shipping_total)
    report.returns += 1


def load_demo_data() -> SeedReport:
    """Create whatever demo data is missing, in one transaction."""
    report = SeedReport()
    rng = random.Random(20261124)
    try:
        roles = seed_roles(report)
        staff = seed_staff(report, roles)
        customers = seed_customers(report, rng)
        rates, shipping = seed_pricing(report)
        products = seed_products(report, rng, rates)
        db.session.flush()
        seed_orders(report, rng, customers, products, staff, shipping)
        db.session.flush()
        seed_invoices(report, staff["clerk"])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    seed_return(report, staff)
    return report


def database_is_empty() -> bool:
    """True when there is no staff account, customer or order yet."""
    return not any(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Customer, Order)
    )
