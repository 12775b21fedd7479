"""Outbox delivery to a real SMTP server on loopback (aiosmtpd), on both databases."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, update

from console.database import db
from console.models import OutboxMessage, OutboxStatus
from console.models.base import utcnow
from console.notify.dispatcher import OUTBOX_ID_HEADER, deliver_due
from console.services import notifications, workflow
from console.services.errors import DomainError
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.fixtures.apps import from_fixture
from tests.fixtures.servers import mail_relay

pytestmark = pytest.mark.settings(
    **mail_relay(),
    MAIL_DEFAULT_SENDER="Shop <shop@example.com>",
    OUTBOX_RETRY_BASE_SECONDS=0,
    OUTBOX_MAX_ATTEMPTS=3,
)


@pytest.fixture
def staff(app):
    return {
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
        "viewer": StaffFactory(email="viewer@staff.test", role="viewer"),
    }


@pytest.fixture
def order(app, staff):
    customer, products = catalogue({"A": 10, "B": 5})
    return OrderFactory(
        customer=customer, lines={products["A"]: 2, products["B"]: 1}, actor=staff["clerk"]
    )


def received(smtp_server, subject_part: str) -> list:
    return [m for _, m in smtp_server.messages if subject_part in m["Subject"]]


def message_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_received_mail_has_both_parts(order, smtp_server):
    report = deliver_due()
    assert len(report.sent) == 1
    assert len(smtp_server.messages) == 1
    recipients, mail = smtp_server.messages[0]
    assert recipients == ["ada@example.com"]
    assert mail["To"] == "ada@example.com"
    assert mail["From"] == "Shop <shop@example.com>"
    assert mail["Subject"] == f"Our shop: we received your order {order.number}"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "Dear Ada Lovelace" in text and order.number in text
    assert "2 x Product A (A)" in text and "Total: €30.00" in text
    assert "<table" in html and "Product A" in html and "€30.00" in html
    row = message_rows()[0]
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None


def test_each_mail_names_its_outbox_row_on_every_attempt(order, staff, smtp_server):
    """The header that traces a received mail back to its row (and lets the several-hosts
    test count deliveries per message) stays the same through a failed attempt."""
    smtp_server.stop()
    assert len(deliver_due().retried) == 1
    smtp_server.start()
    workflow.approve(db.session, order, staff["manager"])
    assert len(deliver_due().sent) == 2
    rows = message_rows()
    assert [row.template for row in rows] == ["order_received", "order_approved"]
    received_by_row = {m[OUTBOX_ID_HEADER]: m["Subject"] for m in smtp_server.received}
    assert received_by_row == {str(row.id): row.subject for row in rows}


def test_smtp_down_during_approval_then_delivered_exactly_once(order, staff, smtp_server):
    deliver_due()  # the "received" mail goes out while the relay is up
    smtp_server.stop()
    workflow.approve(db.session, order, staff["manager"])  # succeeds without SMTP
    db.session.refresh(order)
    assert order.status == "approved"

    report = deliver_due()
    assert len(report.retried) == 1 and not report.sent
    waiting = message_rows()[-1]
    assert waiting.template == "order_approved"
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error.startswith("ConnectionRefusedError: "), waiting.last_error

    smtp_server.start()
    assert len(deliver_due().sent) == 1
    assert deliver_due().attempted == 0  # nothing left: no second copy
    approvals = received(smtp_server, "is confirmed")
    assert len(approvals) == 1
    assert approvals[0]["To"] == "ada@example.com"
    assert message_rows()[-1].status == "sent"


def test_failed_after_max_attempts_then_resend(order, staff, smtp_server):
    smtp_server.stop()
    for _ in range(3):
        deliver_due()
    row = message_rows()[0]
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error
    assert deliver_due().attempted == 0  # failed messages wait for a person

    with pytest.raises(DomainError):
        notifications.resend(db.session, [row.id], staff["viewer"])
    assert message_rows()[0].status == "failed"

    smtp_server.start()
    assert notifications.resend(db.session, [row.id], staff["manager"]) == 1
    assert message_rows()[0].status == "pending"
    assert len(deliver_due().sent) == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.settings(OUTBOX_RETRY_BASE_SECONDS=60, OUTBOX_MAX_ATTEMPTS=5)
def test_backoff_waits_before_the_next_attempt(app, staff, smtp_server):
    customer, products = catalogue({"A": 1})
    OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["clerk"])
    smtp_server.stop()
    before = utcnow()
    deliver_due()
    row = message_rows()[0]
    assert row.next_attempt_at >= before + dt.timedelta(seconds=59)
    assert deliver_due().attempted == 0
    deliver_due()
    assert message_rows()[0].attempts == 1
    # A second failure doubles the delay.
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    before = utcnow()
    deliver_due()
    assert message_rows()[0].next_attempt_at >= before + dt.timedelta(seconds=119)


def test_concurrent_dispatchers_send_each_message_once(app, staff, smtp_server):
    customer, products = catalogue({"A": 1000})
    for _ in range(30):
        OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["clerk"])
    app_obj = app
    sent: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        try:
            with app_obj.app_context():
                barrier.wait()
                mine: list[int] = []
                while True:
                    report = deliver_due(limit=3)
                    mine += report.sent
                    if not report.attempted:
                        break
                sent.append(mine)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    all_sent = [i for mine in sent for i in mine]
    assert len(all_sent) == 30 and len(set(all_sent)) == 30
    assert len(smtp_server.messages) == 30
    assert {r.status for r in message_rows()} == {"sent"}


def test_stale_claim_is_taken_over(order, smtp_server):
    """A dispatcher that died mid-send leaves a claim; after the timeout it is retried."""
    db.session.execute(
        update(OutboxMessage).values(
            status=OutboxStatus.SENDING.value,
            claim_token="dead",
            claimed_at=utcnow() - dt.timedelta(hours=1),
        )
    )
    db.session.commit()
    assert len(deliver_due().sent) == 1
    assert len(smtp_server.messages) == 1


def test_fresh_claim_is_left_alone(order, smtp_server):
    db.session.execute(
        update(OutboxMessage).values(
            status=OutboxStatus.SENDING.value, claim_token="busy", claimed_at=utcnow()
        )
    )
    db.session.commit()
    assert deliver_due().attempted == 0
    assert smtp_server.messages == []


def test_cli_send_delivers_due_messages(order, runner, smtp_server):
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 1, to retry later 0, failed for good 0." in result.output
    assert len(smtp_server.messages) == 1


@pytest.mark.settings(OUTBOX_IN_PROCESS=True, OUTBOX_POLL_SECONDS=3600)
def test_in_process_thread_delivers_after_commit(app, staff, smtp_server, client):
    runtime = app.extensions["console_outbox"]
    assert runtime.thread is None  # not started by building the app (CLI, alembic)
    client.get("/status")  # the first request starts it
    assert runtime.thread.is_alive()
    try:
        customer, products = catalogue({"A": 3})
        order = OrderFactory(customer=customer, lines={products["A"]: 1}, actor=staff["clerk"])
        deadline = time.monotonic() + 10
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        # The poll interval is an hour: only the after-commit wake-up can have sent it.
        assert len(smtp_server.messages) == 1
        assert order.number in smtp_server.messages[0][1]["Subject"]
    finally:
        runtime.stop_thread()


def test_cli_worker_without_redis_polls_the_outbox(order, runner, smtp_server):
    result = runner.invoke(args=["outbox", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "Delivering the outbox every" in result.output
    assert "sent 1, retry 0, failed 0" in result.output
    assert len(smtp_server.messages) == 1


def test_resend_leaves_a_message_being_sent_alone(order, staff):
    db.session.execute(
        update(OutboxMessage).values(
            status=OutboxStatus.SENDING.value, claim_token="busy", claimed_at=utcnow()
        )
    )
    db.session.commit()
    row_id = message_rows()[0].id
    assert notifications.resend(db.session, [row_id], staff["manager"]) == 0
    row = message_rows()[0]
    assert (row.status, row.claim_token) == ("sending", "busy")


@pytest.fixture
def silent_relay():
    """A TCP server on loopback that accepts connections and never says a word."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.settings(MAIL_PORT=from_fixture("silent_relay"), MAIL_TIMEOUT=1)
def test_a_silent_relay_times_out_and_the_message_waits(app, order, silent_relay):
    started = time.monotonic()
    report = deliver_due()
    assert time.monotonic() - started < 10
    assert report.retried and not report.sent
    received_row = message_rows()[0]
    assert received_row.status == "pending" and received_row.attempts == 1
    assert "timed out" in received_row.last_error.lower()
