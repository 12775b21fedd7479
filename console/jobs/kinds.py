"""The kinds of background job: what each does and who may start it.

A kind is declared once, by the module that implements it (``console.jobs.exports``
registers ``export``; imports will register theirs)::

    register(JobKind("export", run=run_export, refusal=export_refusal))

``run`` does the work through a ``JobContext`` (progress, cancellation, the result
file); ``refusal`` says why a person may not run the job with these parameters, or
None. The service asks ``refusal`` when the job is started and the runner asks again
when it starts running, so a job never runs with rights its owner lost meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.jobs.runner import JobContext, JobOutcome
    from console.models import User


@dataclass(frozen=True)
class JobKind:
    """One kind of job."""

    name: str
    run: Callable[[JobContext], JobOutcome]
    """Does the work; raises ``DomainError`` with a message for the person on failure."""
    refusal: Callable[[User, Mapping[str, Any]], str | None]
    """Why ``owner`` may not run this job with these parameters; None when they may."""


KINDS: dict[str, JobKind] = {}
"""Every registered kind, by name."""


def register(kind: JobKind) -> JobKind:
    """Make ``kind`` known to the services and runners of every app in this process."""
    KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> JobKind | None:
    """The kind called ``name``, or None."""
    return KINDS.get(name)
