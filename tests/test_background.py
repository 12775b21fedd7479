"""The one runtime of background work (``console.background``), for both kinds at once:
the outbox's delivery and the jobs."""

from __future__ import annotations

import pytest

from console import background
from console.jobs.runtime import JOBS
from console.notify.runtime import OUTBOX
from tests.factories import StaffFactory
from tests.fixtures.apps import dispose, from_fixture
from tests.test_jobs import start

pytestmark = pytest.mark.settings(REDIS_URL=from_fixture("redis_server", "url"))

KINDS = pytest.mark.parametrize("work", [OUTBOX, JOBS], ids=lambda work: work.name)


@KINDS
def test_each_kind_has_its_runtime_on_the_app(app, work):
    runtime = app.extensions[work.extension]
    assert isinstance(runtime, background.Runtime) and runtime.work is work
    assert runtime.thread is None  # REDIS_URL set: RQ workers, not a thread of the app


@KINDS
def test_a_sweep_with_nothing_waiting_does_not_need_redis(app, redis_server, work):
    """A worker's sweep while Redis is away (and nothing waits) is quiet, not an error."""
    redis_server.stop()
    assert background.sweep(app, work) == 0


def test_the_jobs_sweep_queues_the_triggers_that_are_missing(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    for _ in range(3):
        start(clerk, steps=1)
    queue = background.queue(app, JOBS)
    assert queue.count == 3  # one trigger per commit
    queue.empty()
    background.enqueue(app, JOBS)
    assert background.sweep(app, JOBS) == 2
    assert queue.count == 3
    assert background.sweep(app, JOBS) == 0


def test_the_suite_stops_an_apps_threads_before_its_database_goes(make_app, database_url):
    """A thread outliving its test polls a dropped database and logs over later tests."""
    app = make_app(
        database_url,
        REDIS_URL=None,
        OUTBOX_IN_PROCESS=True,
        JOBS_IN_PROCESS=True,
        OUTBOX_POLL_SECONDS=3600,
        JOBS_POLL_SECONDS=3600,
    )
    runtimes = [app.extensions[work.extension] for work in (OUTBOX, JOBS)]
    for runtime in runtimes:
        runtime.start_thread()
    threads = [runtime.thread for runtime in runtimes]
    assert all(thread is not None and thread.is_alive() for thread in threads)
    dispose(app)
    assert not any(thread.is_alive() for thread in threads if thread is not None)
