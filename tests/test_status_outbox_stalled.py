"""``/status`` tells monitoring when due mail is not being delivered.

Time is controlled through the messages' due times (set in the past), not by waiting.
"""

from __future__ import annotations

import datetime as dt

import pytest

from console.database import db
from console.models import OutboxStatus
from console.models.base import utcnow
from console.services.notifications import enqueue_rendered
from tests.fixtures.apps import from_fixture

STALLED_AFTER = 900

# A relay is configured (nothing delivers under test: no thread, no worker).
pytestmark = pytest.mark.settings(
    MAIL_SERVER=from_fixture("smtp_server", "host"),
    MAIL_PORT=from_fixture("smtp_server", "port"),
)


def message(due_seconds_ago: float, status: OutboxStatus = OutboxStatus.PENDING) -> None:
    """Add a message that became due ``due_seconds_ago`` (negative: due in the future)."""
    queued = enqueue_rendered(
        db.session, "ada@example.com", "Hello", "text", None, template="order_received"
    )
    queued.next_attempt_at = utcnow() - dt.timedelta(seconds=due_seconds_ago)
    queued.status = status.value
    db.session.commit()


def outbox_status(client) -> tuple[int, dict]:
    response = client.get("/status")
    return response.status_code, response.get_json()["outbox"]


def test_nothing_waiting_is_not_stalled(client):
    assert outbox_status(client) == (
        200,
        {"waiting": 0, "failed": 0, "oldest_waiting_seconds": 0, "stalled": False},
    )


def test_recently_due_mail_is_reported_but_not_stalled(client):
    message(due_seconds_ago=120)
    message(due_seconds_ago=-3600)  # waiting out a retry backoff: not overdue
    code, outbox = outbox_status(client)
    assert code == 200
    assert outbox["waiting"] == 2
    assert 120 <= outbox["oldest_waiting_seconds"] < STALLED_AFTER
    assert outbox["stalled"] is False


def test_mail_due_longer_than_the_threshold_is_stalled_and_the_host_stays_in_service(client):
    message(due_seconds_ago=60)
    message(due_seconds_ago=STALLED_AFTER + 300)
    message(due_seconds_ago=7 * 86400, status=OutboxStatus.FAILED)  # given up: not waiting
    message(due_seconds_ago=7 * 86400, status=OutboxStatus.SENT)
    code, outbox = outbox_status(client)
    assert code == 200  # a stall is an alert for monitoring, not a reason to drop the host
    assert outbox["waiting"] == 2
    assert outbox["failed"] == 1
    assert STALLED_AFTER + 300 <= outbox["oldest_waiting_seconds"] < 86400
    assert outbox["stalled"] is True


def test_the_threshold_is_a_setting(app, client):
    message(due_seconds_ago=120)
    app.config["OUTBOX_STALLED_SECONDS"] = 60
    assert outbox_status(client)[1]["stalled"] is True
    app.config["OUTBOX_STALLED_SECONDS"] = 600
    assert outbox_status(client)[1]["stalled"] is False


def test_without_a_relay_waiting_mail_is_kept_by_design_not_stalled(app, client):
    app.config["MAIL_SERVER"] = None
    message(due_seconds_ago=STALLED_AFTER * 10)
    code, outbox = outbox_status(client)
    assert code == 200
    assert outbox["oldest_waiting_seconds"] >= STALLED_AFTER * 10
    assert outbox["stalled"] is False
