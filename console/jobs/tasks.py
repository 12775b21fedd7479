"""RQ jobs of the background-job runner, run by ``flask --app console jobs worker``."""

from __future__ import annotations

from flask import current_app, has_app_context

from console import create_app
from console.jobs.runner import run_next


def run_next_job() -> int | None:
    """Run the oldest queued job (RQ job); its id, or None when none was waiting.

    A trigger, not a job: it takes whatever job is next, so a duplicate or late trigger
    is harmless and a job whose trigger was lost runs with the next one.
    """
    if not has_app_context():  # a plain ``rq worker`` without the console's command
        with create_app().app_context():
            return run_next_job()
    return run_next(current_app._get_current_object())
