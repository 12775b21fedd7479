"""Background jobs on RQ with a real redis-server: triggers, workers, cancel, a killed worker.

``flask --app console jobs worker`` runs as its own process, as in production, on the
test's database and Redis (with the test kind of ``tests/job_kinds.py`` loaded); the
test watches the job through the database and the job's pages, cancels it, or kills
the worker with SIGKILL in the middle of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tests.job_kinds  # noqa: F401 - registers the test kind
from console.database import db
from console.jobs.runtime import queue
from console.jobs.worker import run_worker
from console.services import jobs as jobs_service
from tests.factories import StaffFactory
from tests.fixtures.apps import from_fixture
from tests.helpers import parse
from tests.test_jobs import files_in, job_row, start, wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.settings(REDIS_URL=from_fixture("redis_server", "url"))

WORKER = "import tests.job_kinds; from flask.cli import main; main()"
"""A ``flask`` command line that knows the test kind of job."""


@pytest.fixture
def start_worker(app, redis_server, tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts ``flask --app console jobs worker`` on the test's database and Redis."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "JOBS_"))},
        "CONSOLE_CONFIG": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_server.url,
        "JOBS_RESULT_DIR": app.config["JOBS_RESULT_DIR"],
        "JOBS_POLL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[subprocess.Popen] = []

    def start_process() -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, "--app", "console", "jobs", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        return process

    yield start_process
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def test_a_committed_job_queues_a_trigger_that_a_worker_runs(app):
    assert app.config["JOBS_IN_PROCESS"] is False  # RQ workers, not a thread, run jobs
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    job = start(clerk, steps=3)
    assert queue(app).count == 1
    run_worker(app, burst=True, echo=lambda _: None)
    assert queue(app).count == 0
    job = job_row(job.id)
    assert (job.state, job.progress_done, job.progress_total) == ("done", 3, 3)


def test_a_failure_on_a_worker_is_recorded(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    job = start(clerk, steps=3, fail_at=2)
    run_worker(app, burst=True, echo=lambda _: None)
    job = job_row(job.id)
    assert (job.state, job.error) == ("failed", "Step 2 failed on purpose.")
    assert files_in(app) == []


def test_redis_down_when_queuing_loses_no_job(app, redis_server):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    redis_server.stop()
    job = start(clerk, steps=2)  # committed; the trigger never reached Redis
    assert job_row(job.id).state == "queued"
    redis_server.start()
    assert queue(app).count == 0
    # The worker's sweep queues a trigger for the job the table still holds.
    run_worker(app, burst=True, echo=lambda _: None)
    assert job_row(job.id).state == "done"


def test_a_worker_process_reports_progress_and_is_cancelled(
    app, client, auth, start_worker, tmp_path
):
    clerk = auth.login_as("clerk")
    release = tmp_path / "release"
    job = start(clerk, release, steps=6, hold_at=4)
    start_worker()
    wait_for(lambda: job_row(job.id).progress_done == 3, "three steps on the worker")
    assert client.get(f"/admin/jobs/{job.id}/progress").get_json()["percent"] == 50

    page = client.get(f"/admin/jobs/{job.id}/")
    token = parse(page.get_data(as_text=True)).find("input", attrs={"name": "csrf_token"})["value"]
    assert client.post(f"/admin/jobs/{job.id}/cancel/", data={"csrf_token": token}).status_code
    assert job_row(job.id).state == "cancelled"
    release.touch()
    wait_for(lambda: files_in(app) == [], "the worker to throw its partial file away")
    assert job_row(job.id).state == "cancelled"

    # The same worker goes on with the next job.
    second = start(clerk, steps=2)
    wait_for(lambda: job_row(second.id).state == "done", "the next job")


def test_a_killed_worker_leaves_a_job_that_is_failed_after_the_timeout(
    app, runner, start_worker, tmp_path, clock
):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    release = tmp_path / "release"
    job = start(clerk, release, steps=4, hold_at=3)
    worker = start_worker()
    wait_for(lambda: job_row(job.id).progress_done == 2, "two steps on the worker")
    assert any(name.endswith(".partial") for name in files_in(app))
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)

    stale_after = app.config["JOBS_STALE_AFTER"]
    clock.shift(stale_after - 60)
    assert runner.invoke(args=["jobs", "prune"]).exit_code == 0
    assert job_row(job.id).state == "running"  # not yet: it might still be working

    clock.shift(180)
    result = runner.invoke(args=["jobs", "prune"])
    assert result.exit_code == 0, result.output
    assert f"Marked failed: job(s) {job.id}, whose worker stopped answering." in result.output
    job = job_row(job.id)
    assert (job.state, job.error) == ("failed", jobs_service.STALE_MESSAGE)
    assert files_in(app) == []  # nothing half-done is left
    db.session.remove()
