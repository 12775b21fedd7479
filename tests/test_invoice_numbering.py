"""Invoice numbers: gapless per year, under concurrent shipments, on SQLite and PostgreSQL.

Each thread has its own app context, so its own session and database connection, like
clerks shipping at the same moment on several gunicorn workers.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from sqlalchemy import event, select

from console.database import db
from console.models import Invoice, Order, OutboxMessage, User
from console.models.base import utcnow
from console.services import workflow
from tests.documents_support import approved_orders

SHIPPERS = 8


def numbers() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice.number).order_by(Invoice.number)))


def test_eight_orders_shipped_at_once_get_numbers_one_to_eight(app, team, priced):
    order_ids = approved_orders(team, priced, SHIPPERS)
    clerk_id = team["clerk"].id
    errors: list[BaseException] = []
    barrier = threading.Barrier(SHIPPERS)

    def shipper(order_id: int) -> None:
        try:
            with app.app_context():
                clerk = db.session.get(User, clerk_id)
                barrier.wait()
                workflow.ship(db.session, order_id, clerk, f"TRK-{order_id}")
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=shipper, args=(i,)) for i in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    year = utcnow().year
    assert numbers() == [f"INV-{year}-{n:06d}" for n in range(1, SHIPPERS + 1)]
    # One invoice per order, each carried by that order's shipped e-mail.
    invoiced = dict(db.session.execute(select(Invoice.order_id, Invoice.id)).all())
    assert sorted(invoiced) == sorted(order_ids)
    carried = dict(
        db.session.execute(
            select(OutboxMessage.order_id, OutboxMessage.invoice_id).where(
                OutboxMessage.template == "order_shipped"
            )
        ).all()
    )
    assert carried == invoiced


class OutboxWriteFails(RuntimeError):
    pass


def test_a_shipment_rolled_back_after_taking_a_number_leaves_no_gap(app, team, priced):
    first, failing, third = approved_orders(team, priced, 3)
    clerk = team["clerk"]
    workflow.ship(db.session, first, clerk, "TRK-1")

    # The shipped e-mail is written after the invoice took its number: make that write
    # fail, so the whole shipment (number included) rolls back.
    def refuse(*_args) -> None:
        raise OutboxWriteFails("the outbox cannot be written")

    event.listen(OutboxMessage, "before_insert", refuse)
    try:
        with pytest.raises(OutboxWriteFails):
            workflow.ship(db.session, failing, clerk, "TRK-2")
    finally:
        event.remove(OutboxMessage, "before_insert", refuse)
    assert db.session.get(Order, failing, populate_existing=True).status == "approved"
    year = utcnow().year
    assert numbers() == [f"INV-{year}-000001"]

    workflow.ship(db.session, third, clerk, "TRK-3")
    workflow.ship(db.session, failing, clerk, "TRK-2")
    assert numbers() == [f"INV-{year}-{n:06d}" for n in (1, 2, 3)]
    by_order = dict(db.session.execute(select(Invoice.order_id, Invoice.number)).all())
    assert by_order[third] == f"INV-{year}-000002"
    assert by_order[failing] == f"INV-{year}-000003"


def test_numbering_starts_again_at_one_each_calendar_year(app, team, priced):
    order_ids = approved_orders(team, priced, 3)
    clerk = team["clerk"]
    new_year = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with time_machine.travel(new_year - dt.timedelta(seconds=2), tick=False) as clock:
        workflow.ship(db.session, order_ids[0], clerk, "TRK-1")
        workflow.ship(db.session, order_ids[1], clerk, "TRK-2")
        clock.shift(2)  # 2027-01-01 00:00:00 UTC
        workflow.ship(db.session, order_ids[2], clerk, "TRK-3")
    assert numbers() == ["INV-2026-000001", "INV-2026-000002", "INV-2027-000001"]
    issued = db.session.scalar(select(Invoice).where(Invoice.number == "INV-2027-000001"))
    assert issued.content["issued_on"] == "2027-01-01"


@pytest.mark.settings(INVOICE_ON="approved")
def test_invoice_on_approved_issues_at_approval_not_at_shipping(app, team, priced):
    (order_id,) = approved_orders(team, priced, 1)
    assert len(numbers()) == 1
    workflow.ship(db.session, order_id, team["clerk"], "TRK-1")
    assert len(numbers()) == 1
    templates = dict(
        db.session.execute(
            select(OutboxMessage.template, OutboxMessage.invoice_id).where(
                OutboxMessage.order_id == order_id
            )
        ).all()
    )
    assert templates["order_approved"] is not None
    assert templates["order_shipped"] is None
