"""Delivery through RQ on a real redis-server, including Redis down while approving."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage
from console.notify.runtime import queue
from console.notify.worker import run_worker
from console.services import workflow
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.fixtures.apps import from_fixture
from tests.fixtures.servers import mail_relay

pytestmark = pytest.mark.settings(
    **mail_relay(),
    REDIS_URL=from_fixture("redis_server", "url"),
    OUTBOX_RETRY_BASE_SECONDS=0,
)


@pytest.fixture
def staff(app):
    return {
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
    }


def statuses() -> list[tuple[str, str]]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(OutboxMessage.template, OutboxMessage.status).order_by(OutboxMessage.id)
        ).all()
    )


def test_commit_queues_a_job_that_a_worker_delivers(app, staff, smtp_server, client):
    assert app.config["OUTBOX_IN_PROCESS"] is False  # RQ, not a thread, delivers
    client.get("/status")
    assert app.extensions["console_outbox"].thread is None
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 2}, actor=staff["clerk"])
    assert queue(app).count == 1
    assert smtp_server.messages == []  # the web process itself sends nothing

    run_worker(app, burst=True, echo=lambda _: None)
    assert queue(app).count == 0
    assert statuses() == [("order_received", "sent")]
    assert len(smtp_server.messages) == 1
    assert order.number in smtp_server.messages[0][1]["Subject"]


def test_redis_down_while_approving_loses_nothing(app, staff, smtp_server, redis_server):
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 2}, actor=staff["clerk"])
    run_worker(app, burst=True, echo=lambda _: None)

    redis_server.stop()
    workflow.approve(db.session, order, staff["manager"])  # no Redis: still approved
    db.session.refresh(order)
    assert order.status == "approved"
    assert statuses() == [("order_received", "sent"), ("order_approved", "pending")]

    redis_server.start()
    assert queue(app).count == 0  # the job of the approval never reached Redis
    result = app.test_cli_runner().invoke(args=["outbox", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert statuses() == [("order_received", "sent"), ("order_approved", "sent")]
    confirmations = [m for _, m in smtp_server.messages if "is confirmed" in m["Subject"]]
    assert len(confirmations) == 1
    # Running the worker again sends nothing twice.
    run_worker(app, burst=True, echo=lambda _: None)
    assert len(smtp_server.messages) == 2


def test_duplicate_jobs_do_not_duplicate_mail(app, staff, smtp_server):
    customer, products = catalogue({"A": 5})
    OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["clerk"])
    q = queue(app)
    q.enqueue("console.notify.jobs.deliver_due_job")
    q.enqueue("console.notify.jobs.deliver_due_job")
    assert q.count == 3
    run_worker(app, burst=True, echo=lambda _: None)
    assert len(smtp_server.messages) == 1


def test_a_burst_worker_gives_the_signal_handlers_back(app, redis_server):
    import signal

    from console.notify.worker import run_worker

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    run_worker(app, burst=True, echo=lambda _: None)
    assert {sig: signal.getsignal(sig) for sig in before} == before
