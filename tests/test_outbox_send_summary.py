"""``flask --app console outbox send`` says what is left waiting for a retry, and when."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage, OutboxStatus
from console.models.base import utcnow
from console.services.notifications import enqueue_rendered
from tests.fixtures.apps import from_fixture

pytestmark = pytest.mark.settings(
    MAIL_SERVER=from_fixture("smtp_server", "host"),
    MAIL_PORT=from_fixture("smtp_server", "port"),
    MAIL_SUPPRESS_SEND=False,
    OUTBOX_RETRY_BASE_SECONDS=30,
)


def queue_message(subject: str, *, due_in: dt.timedelta | None = None, attempts: int = 0) -> int:
    message = enqueue_rendered(
        db.session, "ada@example.com", subject, "text", None, template="order_received"
    )
    if due_in is not None:
        message.next_attempt_at = utcnow() + due_in
    message.attempts = attempts
    db.session.commit()
    return message.id


def next_attempt_of(message_id: int) -> dt.datetime:
    db.session.expire_all()
    return db.session.scalar(
        select(OutboxMessage.next_attempt_at).where(OutboxMessage.id == message_id)
    )


def test_a_message_waiting_for_its_retry_is_named_with_its_due_time(runner):
    waiting = queue_message("Later", due_in=dt.timedelta(minutes=4, seconds=30), attempts=1)
    due = next_attempt_of(waiting)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Sent 0, to retry later 0, failed for good 0. 1 message waits for a retry; "
        f"the next is due at {due:%Y-%m-%d %H:%M} UTC (in 5 min)."
    )


def test_the_summary_counts_this_run_and_names_the_earliest_of_several(runner, smtp_server):
    queue_message("Now")
    first = queue_message("Soon", due_in=dt.timedelta(hours=2), attempts=2)
    queue_message("Later", due_in=dt.timedelta(hours=3), attempts=3)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert [m["Subject"] for m in smtp_server.received] == ["Now"]
    assert result.output.strip() == (
        "Sent 1, to retry later 0, failed for good 0. 2 messages wait for a retry; "
        f"the next is due at {next_attempt_of(first):%Y-%m-%d %H:%M} UTC (in 2 h)."
    )


def test_a_refused_delivery_reports_when_it_will_be_tried_again(runner, smtp_server):
    message_id = queue_message("Refused")
    smtp_server.stop()  # the relay is down: the attempt fails and is scheduled again

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message_id).status == OutboxStatus.PENDING
    summary = re.fullmatch(
        r"Sent 0, to retry later 1, failed for good 0\. 1 message waits for a retry; "
        r"the next is due at (.+) UTC \(in (\d+) s\)\.",
        result.output.strip(),
    )
    assert summary, result.output
    assert summary[1] == f"{next_attempt_of(message_id):%Y-%m-%d %H:%M}"
    assert 0 < int(summary[2]) <= 30


def test_nothing_waiting_keeps_the_one_line_summary(runner):
    queue_message("Now")
    result = runner.invoke(args=["outbox", "send"])
    assert result.output.strip() == "Sent 1, to retry later 0, failed for good 0."
