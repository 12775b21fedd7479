"""How delivery is triggered in a running app: after-commit wake-up, thread, RQ jobs.

The outbox is one kind of background work (``console.background``): the in-process
thread (embedded default) starts with the first request a process serves and then polls
every ``OUTBOX_POLL_SECONDS``; a commit that queued a message wakes it at once, or with
``REDIS_URL`` set enqueues an RQ delivery job on ``OUTBOX_RQ_QUEUE``.
"""

from __future__ import annotations

import threading

from flask import Flask
from rq import Queue

from console import background
from console.notify import dispatcher, webhooks
from console.services.notifications import OUTBOX_DIRTY


def delivery_round(app: Flask, _stop: threading.Event) -> background.Round:
    """Deliver the e-mails and the webhook deliveries due now (one batch of each)."""
    mail = dispatcher.deliver_due()
    hooks = webhooks.deliver_due()
    parts = [
        f"{name}: sent {len(report.sent)}, retry {len(report.retried)}, failed {len(report.failed)}"
        for name, report in (("mail", mail), ("webhooks", hooks))
        if report.attempted
    ]
    batch = app.config["OUTBOX_BATCH_SIZE"]
    full = mail.attempted >= batch or hooks.attempted >= batch
    return background.Round("; ".join(parts) or None, full=full)


def count_due() -> int:
    """E-mails (when there is a relay to send them to) and webhook deliveries due now."""
    mail = dispatcher.count_due() if dispatcher.mail_configured() else 0
    return mail + webhooks.count_due()


def delivery_backlog() -> int:
    """One delivery job drains everything due: one is wanted while anything is due."""
    return 1 if count_due() else 0


def nothing_due() -> bool:
    return not count_due()


OUTBOX = background.Work(
    name="outbox",
    extension="console_outbox",
    thread_name="outbox-dispatcher",
    settings="OUTBOX",
    committed_flag=OUTBOX_DIRTY,
    task="console.notify.jobs.deliver_due_job",
    task_timeout=300,
    do_round=delivery_round,
    backlog=delivery_backlog,
    drained=nothing_due,
    polling_banner="Delivering the outbox every {poll} s (Ctrl+C stops).",
)


def queue(app: Flask) -> Queue:
    """The RQ queue of delivery jobs on ``REDIS_URL``."""
    return background.queue(app, OUTBOX)


def enqueue_job(app: Flask) -> bool:
    """Ask RQ for a delivery round; False (logged) when Redis cannot be reached."""
    return background.enqueue(app, OUTBOX)


def init_app(app: Flask) -> None:
    """Attach the delivery runtime to ``app``; start the thread where it belongs."""
    OUTBOX.init_app(app)
