"""The last use of a promotion code, wanted by several orders saved at the same moment.

Each thread has its own app context, so its own session and database connection, like
clerks on several gunicorn workers pressing Save together; a barrier lines them up.
Exactly one order gets the last use; the others are refused with the reason on the
coupon code and save nothing. Runs on SQLite and on the real PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from console.database import db
from console.models import Customer, Order, OrderLine, Product, Promotion, PromotionCustomerUse
from console.services.errors import PricingRefused
from console.services.orders import prepare_order
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.pricing_support import promotion

THREADS = 4


def save_orders_at_once(app, customer_ids: list[int], product_id: int, clerk_id: int) -> list:
    """One thread per customer id saves an order with code LAST; what each got."""
    outcomes: list = [None] * len(customer_ids)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(customer_ids))

    def take(index: int) -> None:
        try:
            with app.app_context():
                from console.models import User

                clerk = db.session.get(User, clerk_id)
                customer = db.session.get(Customer, customer_ids[index])
                product = db.session.get(Product, product_id)
                order = Order(customer=customer, coupon_code="last")
                order.lines = [OrderLine(product=product, quantity=1)]
                db.session.add(order)
                barrier.wait()
                try:
                    prepare_order(db.session, order, clerk, created=True)
                    db.session.commit()
                    outcomes[index] = "saved"
                except PricingRefused as refused:
                    db.session.rollback()
                    outcomes[index] = refused.errors
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(customer_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return outcomes


@pytest.mark.parametrize("limit", ["usage_limit", "per_customer_limit"])
def test_the_last_use_of_a_code_is_taken_once(app, limit):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    product = ProductFactory(sku="A", stock=100)
    if limit == "usage_limit":
        # One use left of three; each thread is another customer.
        code = promotion("LAST", usage_limit=3, times_used=2)
        customers = [CustomerFactory(email=f"c{i}@example.com").id for i in range(THREADS)]
        message = "used up"
    else:
        # One use per customer; every thread is the same customer.
        code = promotion("LAST", per_customer_limit=1)
        customers = [CustomerFactory(email="same@example.com").id] * THREADS
        message = "used the code LAST already"

    outcomes = save_orders_at_once(app, customers, product.id, clerk.id)

    assert outcomes.count("saved") == 1, outcomes
    for refused in (o for o in outcomes if o != "saved"):
        assert set(refused) == {"coupon_code"}
        assert message in refused["coupon_code"][0]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 1
    used = db.session.get(Promotion, code.id).times_used
    assert used == (3 if limit == "usage_limit" else 1)
    per_customer = db.session.scalar(
        select(func.sum(PromotionCustomerUse.times_used)).where(
            PromotionCustomerUse.promotion_id == code.id
        )
    )
    assert per_customer == 1
