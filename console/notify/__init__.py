"""Delivery of the outbox: claim due messages, send them over SMTP, record the outcome.

Three ways run the same ``deliver_due`` (``console.notify.dispatcher``):

- in-process: a background thread of the web app (the embedded default, when
  ``MAIL_SERVER`` is set and ``REDIS_URL`` is not), woken right after each commit
  that queued a message and polling every ``OUTBOX_POLL_SECONDS`` for retries;
- ``flask --app console outbox send`` (due messages once) and ``outbox worker``
  (continuously);
- RQ on Redis when ``REDIS_URL`` is set: each commit that queued a message enqueues a
  delivery job, and ``outbox worker`` runs an RQ worker (scale out by starting more).

Whatever runs it, the outbox table stays the source of truth: a message is claimed
before it is sent, so several dispatchers never send one message twice in normal
operation, and a message nobody delivered (Redis or SMTP down) waits in the table.
"""

from __future__ import annotations

from console.notify.runtime import init_app

__all__ = ["init_app"]
