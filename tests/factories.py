"""factory_boy factories for the console's records, bound to the app's ``db.session``.

Each factory commits what it creates, as a person's earlier work would have: a record
made by a factory is in the database before the test's requests look for it. The
defaults make one plausible record; a test passes what it relies on (``sku=``,
``stock=``, ``last_name=``) so that the values it asserts are visible in the test.

Orders go through the order service (``prepare_order``), which prices them, numbers
them and queues their "order received" e-mail, so an order made here is one the
console could have taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from flask import current_app

from console.database import db
from console.models import Customer, Order, OrderLine, Product, Promotion, User
from console.services import stock as stock_service
from console.services.orders import prepare_order

STAFF_PASSWORD = "correct horse battery staple"

_HASHES: dict[str, str] = {}


def accounts_datastore():
    """The current app's Flask-Security-Too datastore (staff users and roles)."""
    return current_app.extensions["security"].datastore


def password_hash(password: str) -> str:
    """``password`` hashed once per test session: bcrypt is slow on purpose."""
    from flask_security import hash_password

    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


class ConsoleFactory(SQLAlchemyModelFactory):
    """Creates through the app's scoped session and commits."""

    class Meta:
        abstract = True
        sqlalchemy_session = db.session
        sqlalchemy_session_persistence = "commit"


class CustomerFactory(ConsoleFactory):
    class Meta:
        model = Customer

    first_name = "Ada"
    last_name = "Lovelace"
    email = "ada@example.com"


class ProductFactory(ConsoleFactory):
    """A product whose stock came in through the ledger (a "received" movement)."""

    class Meta:
        model = Product

    sku = "SKU-1"
    name = factory.LazyAttribute(lambda product: f"Product {product.sku}")
    unit_price = Decimal("10.00")
    stock = 5

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        session = cls._meta.sqlalchemy_session
        product = model_class(*args, **kwargs)
        session.add(product)
        stock_service.record_initial_stock(session, product, None)
        session.commit()
        return product


class PromotionFactory(ConsoleFactory):
    """A promotion code: 10 % off, always valid, no usage limit, unless told otherwise."""

    class Meta:
        model = Promotion

    code = "SPRING"
    kind = "percentage"
    value = Decimal("10")


class OrderLineFactory(ConsoleFactory):
    """A line of an order; lines are built with their order (``OrderFactory(lines=...)``)."""

    class Meta:
        model = OrderLine

    product = factory.SubFactory(ProductFactory)
    quantity = 1


class OrderFactory(ConsoleFactory):
    """A pending order taken by ``actor`` (None: the system) through the order service.

    ``lines`` maps a product to its quantity (or lists ``(product, quantity)`` pairs).
    """

    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    lines = ()
    actor = None

    @classmethod
    def _create(cls, model_class, *args, lines=(), actor=None, **kwargs):
        session = cls._meta.sqlalchemy_session
        pairs = lines.items() if isinstance(lines, dict) else lines
        order = model_class(*args, **kwargs)
        order.lines = [OrderLineFactory.build(product=p, quantity=q) for p, q in pairs]
        session.add(order)
        prepare_order(session, order, actor, created=True)
        session.commit()
        return order


class StaffFactory(ConsoleFactory):
    """A staff account holding ``role`` (None: no role at all), made by the datastore."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"staff{n}@staff.test")
    role = None
    password = STAFF_PASSWORD
    active = True

    @classmethod
    def _create(cls, model_class, *args, role=None, password=STAFF_PASSWORD, **kwargs):
        datastore = accounts_datastore()
        roles = [datastore.find_role(role)] if role else []
        user = datastore.create_user(password=password_hash(password), roles=roles, **kwargs)
        cls._meta.sqlalchemy_session.commit()
        return user


def catalogue(stock: dict[str, int], price: str = "10.00") -> tuple[Customer, dict[str, Product]]:
    """A customer and one product per SKU of ``stock`` (its stock), all at ``price``."""
    customer = CustomerFactory()
    products = {
        sku: ProductFactory(sku=sku, unit_price=Decimal(price), stock=quantity)
        for sku, quantity in stock.items()
    }
    return customer, products


def api_secret(
    permissions: Iterable[str], owner: User | None = None, *, role: str = "admin", **extra
) -> str:
    """The secret of a new API token with ``permissions``, acting as ``owner`` (default:
    a new staff member holding ``role``), made by the token service as an admin would."""
    from console.services import api_tokens

    session = ConsoleFactory._meta.sqlalchemy_session
    owner = owner or StaffFactory(role=role)
    maker = accounts_datastore().find_user(email="token-maker@staff.test") or StaffFactory(
        email="token-maker@staff.test", role="admin"
    )
    _token, secret = api_tokens.create(
        session, maker, owner, extra.pop("name", "Test token"), permissions, **extra
    )
    session.commit()
    return secret


def bearer(secret: str) -> dict[str, str]:
    """The header that names ``secret``'s token."""
    return {"Authorization": f"Bearer {secret}"}
