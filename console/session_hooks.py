"""What happens when the console's database session flushes and commits, in one list.

Every SQLAlchemy session hook of the console is attached here, in the order it runs:

- at each flush, the audit capture buffers an event for each audited record created,
  changed or deleted (``console.audit.capture``), then a change of a record's parts
  moves its owner's version and an audited staff edit moves the account's
  (``console.services.concurrency``);
- before commit, the buffered events are written into the committing transaction;
- after commit, a transaction that queued e-mail wakes its delivery
  (``console.notify.runtime.OUTBOX``), and one that queued a background job wakes the
  job runner (``console.jobs.runtime.JOBS``), both run by ``console.background``;
- on rollback, the events and the wake-ups of what was rolled back are forgotten.

The audit and version hooks listen on the console's session (``db.session``, which
SQLAlchemy resolves to Flask-SQLAlchemy's session class); the outbox wake-up listens on
every ``Session``, as it always has. Listeners live on classes, so they serve every app
of the process and are attached once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from console.audit import capture
from console.database import db
from console.jobs import runtime as jobs
from console.notify import runtime as outbox
from console.services import concurrency


def session_hooks() -> list[tuple[Any, str, Callable[..., Any]]]:
    """``(target, event, listener)`` for every hook, in the order each event runs them."""
    return [
        (db.session, "before_flush", capture.before_flush),
        (db.session, "before_flush", concurrency.touch_owners),
        (db.session, "persistent_to_deleted", capture.persistent_to_deleted),
        (db.session, "before_commit", capture.before_commit),
        (Session, "after_commit", outbox.OUTBOX.wake_after_commit),
        (Session, "after_commit", jobs.JOBS.wake_after_commit),
        (db.session, "after_soft_rollback", capture.after_soft_rollback),
        (Session, "after_soft_rollback", outbox.OUTBOX.forget_after_rollback),
        (Session, "after_soft_rollback", jobs.JOBS.forget_after_rollback),
        (db.session, "after_transaction_end", capture.after_transaction_end),
    ]


def install() -> None:
    """Attach every session hook (once per process; a second call changes nothing)."""
    for target, name, listener in session_hooks():
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
