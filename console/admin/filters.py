"""List filters of the order view that stay on indexes at any table size.

Flask-Admin's text filters on a joined column offer "contains" (``ILIKE '%x%'``), which
reads every order of a large table. These match exactly, through a subquery on the
indexed column, so a filtered page of a million orders costs the same as of a thousand.
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from sqlalchemy import select

from console.models import Customer, Order, OrderLine, Product, User


class _OrdersWhere(BaseSQLAFilter):
    """Orders whose ``column`` is in the ids selected for the given value."""

    def ids_for(self, value: str):  # pragma: no cover - each subclass says how
        raise NotImplementedError

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self.column.in_(self.ids_for(str(value).strip())))

    def operation(self) -> str:
        return "is"


class CustomerEmailFilter(_OrdersWhere):
    """Orders of the customer with this e-mail address."""

    def __init__(self) -> None:
        super().__init__(Order.customer_id, "Customer e-mail")

    def ids_for(self, value: str):
        return select(Customer.id).where(Customer.email == value.lower())


class ProductSkuFilter(_OrdersWhere):
    """Orders with a line of the product with this SKU."""

    def __init__(self) -> None:
        super().__init__(Order.id, "Contains product (SKU)")

    def ids_for(self, value: str):
        return select(OrderLine.order_id).join(Product).where(Product.sku == value)


class TakenByFilter(_OrdersWhere):
    """Orders taken by the staff member with this e-mail address."""

    def __init__(self) -> None:
        super().__init__(Order.created_by_id, "Taken by (e-mail)")

    def ids_for(self, value: str):
        return select(User.id).where(User.email == value.lower())
