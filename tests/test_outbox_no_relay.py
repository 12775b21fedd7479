"""Without MAIL_SERVER (the embedded default) messages stay in the outbox, readable."""

from __future__ import annotations

from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage
from console.notify.dispatcher import deliver_due
from tests.factories import OrderFactory, StaffFactory, catalogue


def test_messages_stay_in_the_outbox(app, runner, client):
    assert app.config["OUTBOX_IN_PROCESS"] is False  # under test only when asked for
    client.get("/status")
    assert app.extensions["console_outbox"].thread is None
    customer, products = catalogue({"A": 3})
    OrderFactory(
        customer=customer,
        lines={products["A"]: 1},
        actor=StaffFactory(email="clerk@staff.test", role="clerk"),
    )
    assert deliver_due().attempted == 0
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0
    assert "No MAIL_SERVER configured: 1 due message(s) stay in the outbox" in result.output
    # The worker still runs (it posts webhooks); the mail waits.
    worker = runner.invoke(args=["outbox", "worker", "--burst"])
    assert worker.exit_code == 0, worker.output
    assert "e-mail stays in the outbox; this worker delivers webhooks only" in worker.output
    row = db.session.scalar(select(OutboxMessage))
    assert (row.status, row.attempts) == ("pending", 0)
