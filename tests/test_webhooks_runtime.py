"""Webhook deliveries ride the e-mail outbox's runtime: RQ jobs on a real redis-server
(commit enqueues a trigger, ``outbox worker`` posts), also with no SMTP relay at all.
"""

from __future__ import annotations

import pytest

from console.database import db
from console.notify.runtime import queue
from console.notify.worker import run_worker
from console.services import webhooks
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.fixtures.apps import from_fixture

pytestmark = pytest.mark.settings(
    REDIS_URL=from_fixture("redis_server", "url"),
    WEBHOOK_ALLOW_HTTP=True,
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True,
)


def test_a_commit_queues_a_job_the_outbox_worker_posts(app, client, webhook_receiver):
    assert app.config["MAIL_SERVER"] is None  # webhooks need no relay
    admin = StaffFactory(email="admin@staff.test", role="admin")
    endpoint = webhooks.create_endpoint(
        db.session, admin, url=webhook_receiver.url, events=["order.created"]
    )
    webhook_receiver.secret = endpoint.secret
    customer, products = catalogue({"A": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 1})
    assert queue(app).count == 1
    assert webhook_receiver.received == []  # the web process itself posts nothing

    result = app.test_cli_runner().invoke(args=["outbox", "worker", "--burst"])

    assert result.exit_code == 0, result.output
    assert queue(app).count == 0
    assert webhook_receiver.types() == ["order.created"]
    assert webhook_receiver.received[0].body["data"]["order"]["number"] == order.number
    run_worker(app, burst=True, echo=lambda _: None)  # again: nothing posted twice
    assert len(webhook_receiver.received) == 1
