"""The database restarts while staff work: 503 while it is down, recovery without a restart,
and never a half-written order."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

from sqlalchemy import select

from console.database import db
from console.models import Customer, Order, Product
from console.schema import upgrade
from tests.helpers import Auth, csrf_token_from


def _wait_for(client, status: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/status").status_code == status:
            return True
        time.sleep(0.2)
    return False


def _until(condition, seconds: float = 20.0) -> bool:
    """Wait (bounded) for ``condition()`` to hold, rather than guess how long it takes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_database_restart_under_load(own_postgres, make_app):
    name = f"r_{uuid.uuid4().hex[:12]}"
    own_postgres.execute(f'CREATE DATABASE "{name}"')
    app = make_app(own_postgres.database_url(name))
    upgrade(app)
    with app.app_context():
        customer = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
        product = Product(sku="KET-1", name="Kettle", unit_price=Decimal("10.00"), stock=5)
        db.session.add_all([customer, product])
        db.session.commit()
        customer_id, product_id = customer.id, product.id
        worker = app.test_client()
        Auth(worker).login_as("clerk")
        db.session.remove()

    answers: list[int] = []
    stop = threading.Event()

    def take_orders() -> None:
        while not stop.is_set():
            page = worker.get("/admin/order/new/")
            if page.status_code != 200:
                answers.append(page.status_code)
                time.sleep(0.05)
                continue
            response = worker.post(
                "/admin/order/new/",
                data={
                    "csrf_token": csrf_token_from(page.get_data(as_text=True)),
                    "customer": str(customer_id),
                    "lines-0-product": str(product_id),
                    "lines-0-quantity": "2",
                },
            )
            answers.append(response.status_code)

    thread = threading.Thread(target=take_orders, daemon=True)
    thread.start()
    monitor = app.test_client()
    try:
        assert _until(lambda: 302 in answers), "no order was taken before the outage"
        own_postgres.pause()
        assert _wait_for(monitor, 503), "/status kept answering 200 with the database down"
        assert _until(lambda: 503 in answers), "the clerk never met the outage"
        own_postgres.resume()
        assert _wait_for(monitor, 200), "the console did not recover after the database came back"
        since = len(answers)
        assert _until(lambda: 302 in answers[since:]), "no order was taken after the outage"
    finally:
        stop.set()
        thread.join(timeout=30)

    assert 500 not in answers, answers
    assert 503 in answers  # the clerk met the outage, and was told so
    assert answers[-1] == 302  # and took orders again once the database was back
    assert {200, 302, 503} >= set(answers), answers
    with app.app_context():
        orders = db.session.scalars(select(Order)).all()
        assert orders
        for order in orders:
            assert len(order.lines) == 1, order.number
            assert (
                order.total
                == Decimal("20.00")
                == sum(x.unit_price * x.quantity for x in order.lines)
            )
        db.session.remove()
        db.engine.dispose()
