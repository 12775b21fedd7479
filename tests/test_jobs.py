"""Background jobs without Redis: the in-process runner, the jobs pages, stale jobs, prune.

Jobs of the test kind ``test.steps`` (``tests/job_kinds.py``) run on the runner thread
of the app (``JOBS_IN_PROCESS``), as in the embedded default. A job told to hold waits
for a release file, so the tests look at, cancel and give up jobs that are certainly
running; waiting is bounded polling for a condition, never a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

import tests.job_kinds  # noqa: F401 - registers the test kind
from console.database import db
from console.models import Job, OutboxMessage
from console.models.base import utcnow
from console.services import jobs as jobs_service
from console.services.errors import DomainError
from tests.factories import StaffFactory
from tests.helpers import alerts, parse, text_of

DEADLINE = 30.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE):
    """Poll ``condition`` until it holds (its value), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def job_row(job_id: int) -> Job:
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job is not None
    return job


def start(owner, release: Path | None = None, **parameters) -> Job:
    parameters.setdefault("steps", 5)
    if release is not None:
        parameters["release"] = str(release)
    return jobs_service.start(db.session, owner, "test.steps", parameters, title="Counting")


def files_in(app) -> list[str]:
    folder = Path(app.config["JOBS_RESULT_DIR"])
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def runner_thread(app):
    """The app's in-process job runner, stopped after the test."""
    runtime = app.extensions["console_jobs"]
    yield runtime
    runtime.stop_thread()


in_process = pytest.mark.settings(JOBS_IN_PROCESS=True, JOBS_POLL_SECONDS=3600)


@in_process
def test_the_runner_thread_runs_a_job_and_the_page_follows_its_progress(
    app, client, auth, runner_thread, tmp_path
):
    clerk = auth.login_as("clerk")
    assert runner_thread.thread is not None  # the sign-in's requests started it
    release = tmp_path / "release"
    job = start(clerk, release, steps=5, hold_at=3)

    # Held before step 3: two of five steps are done, and the page's JSON says so.
    wait_for(lambda: job_row(job.id).progress_done == 2, "two steps done")
    progress = client.get(f"/admin/jobs/{job.id}/progress").get_json()
    assert progress == {
        "id": job.id,
        "state": "running",
        "state_label": "Running",
        "finished": False,
        "done": 2,
        "total": 5,
        "percent": 40,
        "error": None,
        "download_url": None,
    }
    page = parse(client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True))
    assert page.find(id="job")["data-progress-url"] == f"/admin/jobs/{job.id}/progress"
    assert page.find(id="job-bar")["aria-valuenow"] == "40"
    assert page.find(id="job-cancel") is not None

    release.touch()
    wait_for(lambda: job_row(job.id).state == "done", "the job to finish")
    progress = client.get(f"/admin/jobs/{job.id}/progress").get_json()
    assert progress["percent"] == 100 and progress["finished"] is True
    assert progress["download_url"] == f"/admin/jobs/{job.id}/download/"
    download = client.get(progress["download_url"])
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == "attachment; filename=steps.txt"
    assert download.get_data(as_text=True) == "".join(f"step {n}\n" for n in range(1, 6))
    assert [name for name in files_in(app) if name.endswith(".partial")] == []


@in_process
def test_a_running_job_is_cancelled_and_leaves_nothing(app, client, auth, runner_thread, tmp_path):
    clerk = auth.login_as("clerk")
    release = tmp_path / "release"
    job = start(clerk, release, steps=4, hold_at=2)
    wait_for(lambda: job_row(job.id).progress_done == 1, "the first step")
    assert any(name.endswith(".partial") for name in files_in(app))

    page = client.get(f"/admin/jobs/{job.id}/")
    token = parse(page.get_data(as_text=True)).find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        f"/admin/jobs/{job.id}/cancel/", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Counting cancelled." in alerts(response.get_data(as_text=True))
    assert job_row(job.id).state == "cancelled"

    release.touch()
    # The runner notices at its next progress report and throws its partial file away.
    wait_for(lambda: files_in(app) == [], "the partial file to go")
    job = job_row(job.id)
    assert (job.state, job.result_path, job.progress_done) == ("cancelled", None, 1)

    # Cancelling it again: a clear message, nothing changes.
    response = client.post(
        f"/admin/jobs/{job.id}/cancel/", data={"csrf_token": token}, follow_redirects=True
    )
    assert "already finished (cancelled); there is nothing to cancel" in alerts(
        response.get_data(as_text=True)
    )
    assert job_row(job.id).finished_at == job.finished_at


@in_process
def test_a_failed_job_shows_its_error(app, client, auth, runner_thread):
    clerk = auth.login_as("clerk")
    job = start(clerk, steps=5, fail_at=3)
    wait_for(lambda: job_row(job.id).is_finished, "the job to end")
    job = job_row(job.id)
    assert (job.state, job.error, job.progress_done) == ("failed", "Step 3 failed on purpose.", 2)
    assert files_in(app) == []
    page = parse(client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True))
    assert text_of(page.find(id="job-error")) == "Step 3 failed on purpose."
    assert page.find(id="job-cancel") is None
    assert client.get(f"/admin/jobs/{job.id}/progress").get_json()["error"] == (
        "Step 3 failed on purpose."
    )


def test_an_unexpected_error_fails_the_job_with_its_message(app, client, auth):
    from console.jobs.runner import run_next

    clerk = auth.login_as("clerk")
    job = start(clerk, steps=3, crash_at=2)
    assert run_next(app) == job.id
    job = job_row(job.id)
    assert (job.state, job.error) == ("failed", "The job stopped on an unexpected error: boom")
    assert files_in(app) == []


def test_the_service_refuses_bad_parameters_and_unknown_kinds(app):
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    with pytest.raises(DomainError, match="Say how many steps."):
        jobs_service.start(db.session, clerk, "test.steps", {"steps": "x"}, title="x")
    with pytest.raises(DomainError, match="no kind of job called 'nope'"):
        jobs_service.start(db.session, clerk, "nope", {}, title="x")
    assert db.session.scalars(select(Job)).all() == []


def test_a_job_whose_runner_died_is_failed_after_the_timeout(app, clock):
    """A runner claimed the job, wrote half a file and was never heard of again."""
    clerk = StaffFactory(email="clerk@staff.test", role="clerk")
    job = start(clerk)
    job_id, token = jobs_service.claim(db.session)
    assert job_id == job.id
    assert jobs_service.heartbeat(db.session, job_id, token, 1, 5)
    partial = jobs_service.partial_file(job_id, token, "txt")
    partial.write_text("step 1\n")

    clock.shift(app.config["JOBS_STALE_AFTER"] - 1)
    assert jobs_service.fail_stale(db.session) == []
    assert job_row(job_id).state == "running"

    clock.shift(2)
    assert jobs_service.fail_stale(db.session) == [job_id]
    job = job_row(job_id)
    assert (job.state, job.error) == ("failed", jobs_service.STALE_MESSAGE)
    assert not partial.exists()
    # The runner, should it come back, finds the job no longer its own.
    assert jobs_service.heartbeat(db.session, job_id, token, 2, 5) is False


def test_prune_removes_results_after_the_kept_days(app, runner, client, auth, clock):
    from console.jobs.runner import run_next

    clerk = auth.login_as("clerk")
    job = start(clerk, steps=2)
    assert run_next(app) == job.id
    path = Path(app.config["JOBS_RESULT_DIR"]) / job_row(job.id).result_path
    assert path.is_file()
    leftover = Path(app.config["JOBS_RESULT_DIR"]) / "999-0123456789abcdef.csv.partial"
    leftover.write_text("half")

    clock.shift(app.config["JOBS_KEEP_DAYS"] * 86400 - 60)
    result = runner.invoke(args=["jobs", "prune"])
    assert result.exit_code == 0, result.output
    assert "Removed the result files of 0 job(s)" in result.output
    assert path.is_file() and not leftover.exists()

    clock.shift(120)
    result = runner.invoke(args=["jobs", "prune"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Removed the result files of 1 job(s) finished more than 7")
    assert not path.exists()
    job = job_row(job.id)
    assert job.result_path is None and job.result_removed_at == utcnow()
    auth.login_as("clerk")  # a week later: signed out for idleness long ago
    response = client.get(f"/admin/jobs/{job.id}/download/", follow_redirects=True)
    assert "was removed on" in alerts(response.get_data(as_text=True))


def test_another_persons_job_is_refused_and_admins_see_all(app, client, auth):
    from console.jobs.runner import run_next

    owner = StaffFactory(email="owner@staff.test", role="clerk")
    job = start(owner, steps=1)
    run_next(app)
    auth.login_as("manager")
    for path in ("", "progress", "download/"):
        assert client.get(f"/admin/jobs/{job.id}/{path}").status_code == 403, path
    page = client.get("/admin/jobs/")
    token = parse(page.get_data(as_text=True)).find("input", attrs={"name": "csrf_token"})["value"]
    for path in ("cancel/", "notify/"):
        response = client.post(f"/admin/jobs/{job.id}/{path}", data={"csrf_token": token})
        assert response.status_code == 403, path
    assert client.get(f"/admin/jobs/{job.id}/progress").get_json() == {
        "error": "This job belongs to someone else; only its owner may open it."
    }
    # The list shows only the person's own jobs, even when asked for everyone's.
    assert f"/admin/jobs/{job.id}/" not in client.get("/admin/jobs/?everyone=1").get_data(
        as_text=True
    )
    # A job that does not exist, or an id no job can have: 404.
    assert client.get("/admin/jobs/424242/").status_code == 404
    assert client.get("/admin/jobs/99999999999999999999/progress").status_code == 404
    assert job_row(job.id).state == "done"

    auth.logout()
    auth.login_as("admin")
    listing = parse(client.get("/admin/jobs/?everyone=1").get_data(as_text=True))
    rows = [[text_of(td) for td in tr.find_all("td")] for tr in listing.select("table tr")[1:]]
    assert rows[0][:3] == ["Counting", "owner@staff.test", "Done"]
    # The state is a badge whose colour follows it; the word is always written.
    assert text_of(listing.select_one("table td .badge.job-badge.job-done")) == "Done"
    assert client.get(f"/admin/jobs/{job.id}/").status_code == 200
    assert client.get(f"/admin/jobs/{job.id}/download/").status_code == 200


def test_the_owner_is_emailed_when_the_job_finishes(app, client, auth):
    from console.jobs.runner import run_next

    clerk = auth.login_as("clerk")
    job = start(clerk, steps=1)
    page = client.get(f"/admin/jobs/{job.id}/")
    token = parse(page.get_data(as_text=True)).find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        f"/admin/jobs/{job.id}/notify/",
        data={"csrf_token": token, "notify": "1"},
        follow_redirects=True,
    )
    assert "You will get an e-mail when this job finishes." in alerts(
        response.get_data(as_text=True)
    )
    assert db.session.scalars(select(OutboxMessage)).all() == []
    run_next(app)
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert message.recipient == "clerk@staff.test"
    assert message.subject == "Back Office: Counting is ready"
    assert f"http://console.test/admin/jobs/{job.id}/" in message.body_text

    # Asking once the job is over: a clear message, nothing changes.
    response = client.post(
        f"/admin/jobs/{job.id}/notify/",
        data={"csrf_token": token, "notify": "0"},
        follow_redirects=True,
    )
    assert "already finished (done); no e-mail will follow" in alerts(
        response.get_data(as_text=True)
    )
    assert job_row(job.id).notify_when_done is True
