"""RQ jobs of outbox delivery, run by ``flask --app console outbox worker`` workers."""

from __future__ import annotations

from flask import current_app, has_app_context

from console import create_app
from console.notify import webhooks
from console.notify.dispatcher import deliver_due


def deliver_due_job() -> dict[str, int]:
    """Deliver the messages and webhook deliveries due now (RQ job), in an app context.

    A job is a trigger, not a message: it drains whatever is due, so a duplicate or a
    late job is harmless and a message whose job was lost goes with the next one.
    """
    if not has_app_context():  # a plain ``rq worker`` without the console's command
        with create_app().app_context():
            return deliver_due_job()
    report = deliver_due()
    hooks = webhooks.deliver_due()
    report.sent += hooks.sent
    report.retried += hooks.retried
    report.failed += hooks.failed
    current_app.logger.info(
        "outbox: %s sent, %s to retry, %s failed",
        len(report.sent),
        len(report.retried),
        len(report.failed),
    )
    return {"sent": len(report.sent), "retried": len(report.retried), "failed": len(report.failed)}
