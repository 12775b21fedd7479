"""List filters: order filters that stay on indexes, and range-checked number filters.

Flask-Admin's text filters on a joined column offer "contains" (``ILIKE '%x%'``), which
reads every order of a large table. The order filters match exactly, through a subquery
on the indexed column, so a filtered page of a million orders costs the same as of a
thousand. ``BoundedFilterConverter`` gives every model view integer and decimal filters
that refuse values their columns cannot hold, and date-and-time filters that read what
the person types in their own time zone (``console.localtime``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterConverter, FilterEmpty
from sqlalchemy import func, select

from console.localtime import to_utc
from console.models import Customer, Order, OrderLine, Product, StockMovement, User


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


class _MovementsWhere(_OrdersWhere):
    """Stock movements whose ``column`` is in the ids selected for the given value."""


class MovementProductFilter(_MovementsWhere):
    """Movements of the product with this SKU (whatever its case)."""

    def __init__(self) -> None:
        super().__init__(StockMovement.product_id, "Product (SKU)")

    def ids_for(self, value: str):
        return select(Product.id).where(func.lower(Product.sku) == value.lower())


class MovementPersonFilter(_MovementsWhere):
    """Movements recorded by the staff member with this e-mail address."""

    def __init__(self) -> None:
        super().__init__(StockMovement.actor_id, "Person (e-mail)")

    def ids_for(self, value: str):
        return select(User.id).where(User.email == value.lower())


class MovementOrderFilter(_MovementsWhere):
    """Movements of the order with this number."""

    def __init__(self) -> None:
        super().__init__(StockMovement.order_id, "Order")

    def ids_for(self, value: str):
        return select(Order.id).where(Order.number == value)


# --- filters that keep to what the columns hold ------------------------------------------

INT_RANGE = (-(2**31), 2**31 - 1)
"""Values an ``integer`` column holds; a filter value outside it is refused."""

MAX_AMOUNT = 10**15
"""Beyond any ``Numeric(12, 2)`` amount; larger filter values are refused."""


class _Bounded:
    """A Flask-Admin list filter whose ``clean`` refuses values past the column's range.

    Flask-Admin validates a filter's value by calling ``clean`` and treating a
    ``ValueError`` as "invalid value" (a message, no filter); without this, ``2**63``
    reached SQLite and ``2**31`` PostgreSQL, and ``nan`` or ``inf`` a decimal column.
    """

    def clean(self, value: str) -> Any:
        cleaned = super().clean(value)  # type: ignore[misc]
        for number in cleaned if isinstance(cleaned, list) else [cleaned]:
            if not self.holds(number):
                raise ValueError(f"{value!r} is out of range")
        return cleaned

    def holds(self, number: Any) -> bool:  # pragma: no cover - each kind says how
        raise NotImplementedError


class _IntBounded(_Bounded):
    def holds(self, number: int) -> bool:
        return INT_RANGE[0] <= number <= INT_RANGE[1]


class _AmountBounded(_Bounded):
    def holds(self, number: float) -> bool:
        return math.isfinite(number) and abs(number) <= MAX_AMOUNT


def _bounded(filters: tuple[type, ...], bound: type) -> tuple[type, ...]:
    """``filters`` with each value-taking filter class given ``bound``'s range check."""
    return tuple(
        flt if flt is FilterEmpty else type(f"Bounded{flt.__name__}", (bound, flt), {})
        for flt in filters
    )


class _LocalTime:
    """A date-and-time filter whose typed value is the person's local time.

    The database keeps UTC; Flask-Admin parses ``2026-12-02 00:00:00`` and would compare
    it as UTC. Here the parsed time is read in the person's zone and turned into UTC,
    so "from midnight" is the person's midnight.
    """

    def clean(self, value: str) -> Any:
        cleaned = super().clean(value)  # type: ignore[misc]
        if isinstance(cleaned, list):
            return [to_utc(moment) for moment in cleaned]
        return to_utc(cleaned) if isinstance(cleaned, dt.datetime) else cleaned


def local_time(filter_class: type) -> type:
    """``filter_class`` (a date-and-time filter) reading typed values in the person's zone."""
    if filter_class is FilterEmpty:
        return filter_class
    return type(f"Local{filter_class.__name__}", (_LocalTime, filter_class), {})


class BoundedFilterConverter(FilterConverter):
    """Flask-Admin's filter converter, with integer and decimal filters range-checked and
    date-and-time filters read in the person's time zone."""

    int_filters = _bounded(FilterConverter.int_filters, _IntBounded)
    float_filters = _bounded(FilterConverter.float_filters, _AmountBounded)
    datetime_filters = tuple(local_time(flt) for flt in FilterConverter.datetime_filters)
