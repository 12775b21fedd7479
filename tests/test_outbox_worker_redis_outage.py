"""``flask --app console outbox worker`` lives through a Redis restart.

The worker runs as its own process, as in production, against the test's database, a
real redis-server and a real SMTP server on loopback. Redis is stopped while a delivery
job is inside its SMTP conversation (the SMTP server holds the message until the test
lets it go), then started again on the same port; a message queued afterwards must still
be delivered by the same worker process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from console.database import db
from console.models import OutboxMessage
from console.services.notifications import enqueue_rendered
from tests.fixtures.apps import from_fixture
from tests.services import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 90.0
"""Seconds any one awaited state may take (Redis clients back off for several seconds)."""


class GatedSmtpServer(SmtpServer):
    """A real SMTP server that holds the first message until ``gate`` is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.gate = threading.Event()

    def _handler(self):
        inner = super()._handler()
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 - aiosmtpd's API
                if not server.gate.is_set():
                    server.holding.set()
                    await asyncio.get_running_loop().run_in_executor(
                        None, server.gate.wait, DEADLINE
                    )
                return await inner.handle_DATA(smtp, session, envelope)

        return Handler()


@pytest.fixture
def gated_smtp() -> Iterator[GatedSmtpServer]:
    server = GatedSmtpServer().start()
    try:
        yield server
    finally:
        server.gate.set()
        server.stop()


pytestmark = pytest.mark.settings(
    MAIL_SERVER=from_fixture("gated_smtp", "host"),
    MAIL_PORT=from_fixture("gated_smtp", "port"),
    MAIL_SUPPRESS_SEND=False,
    REDIS_URL=from_fixture("redis_server", "url"),
)


@pytest.fixture
def start_worker(app, gated_smtp, redis_server, tmp_path) -> Iterator[Callable[[], WorkerProcess]]:
    """Starts ``flask --app console outbox worker`` on the test's database, Redis and SMTP."""
    env = {
        **os.environ,
        "CONSOLE_CONFIG": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": gated_smtp.host,
        "MAIL_PORT": str(gated_smtp.port),
        "REDIS_URL": redis_server.url,
        "OUTBOX_POLL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[subprocess.Popen] = []

    def start() -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "console", "outbox", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return WorkerProcess(process, log)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(30)


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def wait_for(condition: Callable[[], bool], what: str, worker: WorkerProcess) -> None:
    """Poll ``condition`` until it holds; fail with the worker's log after the deadline."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.output[-4000:]}")
        time.sleep(0.1)


def queue_message(subject: str) -> int:
    """Commit one message to the outbox (the commit queues a delivery job on Redis)."""
    message = enqueue_rendered(
        db.session, "ada@example.com", subject, "text", None, template="order_received"
    )
    db.session.commit()
    return message.id


def status_of(message_id: int) -> str:
    db.session.expire_all()
    status = db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id))
    db.session.commit()  # end the read: SQLite must not stay locked for the worker
    return status


def test_the_worker_survives_a_redis_restart_during_a_job(
    app, gated_smtp, redis_server, start_worker
):
    worker_process = start_worker()
    wait_for(lambda: "RQ worker on queue" in worker_process.output, "the worker", worker_process)

    first = queue_message("Before the outage")
    wait_for(gated_smtp.holding.is_set, "the job to reach SMTP", worker_process)
    redis_server.stop()  # Redis goes away while the job is sending
    gated_smtp.gate.set()
    wait_for(lambda: status_of(first) == "sent", "the first message to be sent", worker_process)
    wait_for(
        lambda: "waiting for Redis" in worker_process.output or not worker_process.alive,
        "the worker to notice the outage",
        worker_process,
    )
    assert worker_process.alive, f"the worker died with Redis:\n{worker_process.output[-4000:]}"

    redis_server.start()  # back on the same port, empty
    second = queue_message("After the outage")
    wait_for(lambda: status_of(second) == "sent", "the second message", worker_process)
    assert [m["Subject"] for m in gated_smtp.received] == ["Before the outage", "After the outage"]

    worker_process.process.send_signal(signal.SIGTERM)  # still stops when asked to
    assert worker_process.process.wait(DEADLINE) == 0, worker_process.output[-4000:]


def test_a_worker_started_without_redis_waits_for_it_and_stops_on_sigterm(
    app, redis_server, start_worker
):
    redis_server.stop()
    worker_process = start_worker()
    wait_for(
        lambda: "waiting for Redis" in worker_process.output or not worker_process.alive,
        "the worker to wait for Redis",
        worker_process,
    )
    assert worker_process.alive, f"the worker died without Redis:\n{worker_process.output[-4000:]}"

    worker_process.process.send_signal(signal.SIGTERM)
    assert worker_process.process.wait(DEADLINE) == 0, worker_process.output[-4000:]
