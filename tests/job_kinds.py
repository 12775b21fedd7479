"""A kind of job for the tests of the job framework: counts steps, can hold, can fail.

``test.steps`` with ``{"steps": n}`` reports progress after each of ``n`` steps and
writes a small text file. ``hold_at=k`` makes it wait before step ``k`` until the file
``release`` exists (the test creates it; polled, bounded), so a test can look at, cancel
or kill a job that is certainly running. ``fail_at=k`` raises a ``DomainError`` at
step ``k``, ``crash_at=k`` an unexpected ``RuntimeError``. Imported by the tests and by
the worker processes they start.
"""

from __future__ import annotations

import time
from pathlib import Path

from console.jobs.kinds import JobKind, register
from console.jobs.runner import JobContext, JobOutcome
from console.services.errors import DomainError

HOLD_DEADLINE = 120.0
"""Seconds a held job waits for its release file before going on anyway."""


def run_steps(context: JobContext) -> JobOutcome:
    steps = int(context.parameters["steps"])
    hold_at = context.parameters.get("hold_at")
    fail_at = context.parameters.get("fail_at")
    crash_at = context.parameters.get("crash_at")
    release = context.parameters.get("release")
    path = context.partial_path("txt")
    with path.open("w") as out:
        context.progress(0, steps, force=True)
        for step in range(1, steps + 1):
            if step == hold_at:
                out.flush()
                deadline = time.monotonic() + HOLD_DEADLINE
                while not Path(release).exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
            if step == fail_at:
                raise DomainError(f"Step {step} failed on purpose.")
            if step == crash_at:
                raise RuntimeError("boom")
            out.write(f"step {step}\n")
            context.progress(step, steps, force=True)
    return JobOutcome(path=path, name="steps.txt", rows=steps)


def no_refusal(owner, parameters) -> str | None:
    if not isinstance(parameters.get("steps"), int):
        return "Say how many steps."
    return None


register(JobKind("test.steps", run=run_steps, refusal=no_refusal))
