"""``/admin/jobs/``: a person's background jobs (exports), their progress and results.

Open to everyone signed in, for their own jobs; holders of ``staff.manage`` see and
act on everyone's. Which job a person may open, cancel or download is decided by the
jobs service for each request (``JobForbidden`` -> 403, ``JobNotFound`` -> 404), not
by what the list shows. The job page polls ``progress`` (a small JSON document) from
``static/js/jobs.js`` to move its progress bar without a reload.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from console import localtime
from console.admin.base import SecuredBaseView
from console.database import db
from console.models import Job
from console.models.base import word_of
from console.models.jobs import JobState
from console.services import jobs as jobs_service
from console.services.errors import DomainError

PAGE_SIZE = 50


def _actor():
    return current_user._get_current_object()


def progress_document(job: Job) -> dict[str, Any]:
    """What the job page's script needs to show ``job`` as it is now."""
    return {
        "id": job.id,
        "state": job.state,
        "state_label": job.state_label,
        "finished": job.is_finished,
        "done": job.progress_done,
        "total": job.progress_total,
        "percent": job.percent,
        "error": job.error,
        "download_url": (
            url_for("jobs.download", job_id=job.id)
            if job.state == "done" and job.result_path
            else None
        ),
    }


class JobsView(SecuredBaseView):
    """The jobs list, a job's page, its progress, cancel, e-mail request and download."""

    read_permission = None  # every signed-in person, for their own jobs

    def _job(self, job_id: Any) -> Job:
        """The job, if the person may see it; 404 / 403 otherwise."""
        try:
            return jobs_service.job_for(db.session, _actor(), job_id)
        except jobs_service.JobNotFound:
            abort(404)
        except jobs_service.JobForbidden:
            abort(403)

    @expose("/")
    def index(self):
        everyone = request.args.get("everyone") == "1" and jobs_service.sees_every_job(_actor())
        page = max(request.args.get("page", 0, type=int), 0)
        page = min(page, 100_000)
        jobs = jobs_service.jobs_for(
            db.session,
            _actor(),
            everyone=everyone,
            limit=PAGE_SIZE + 1,
            offset=page * PAGE_SIZE,
        )
        return self.render(
            "admin/jobs/list.html",
            jobs=jobs[:PAGE_SIZE],
            more=len(jobs) > PAGE_SIZE,
            page=page,
            everyone=everyone,
            may_see_everyone=jobs_service.sees_every_job(_actor()),
        )

    @expose("/<int:job_id>/")
    def details(self, job_id: int):
        job = self._job(job_id)
        return self.render("admin/jobs/details.html", job=job, progress=progress_document(job))

    @expose("/<int:job_id>/progress")
    def progress(self, job_id: int):
        """The job's state and progress as JSON (polled by the job page)."""
        try:
            job = jobs_service.job_for(db.session, _actor(), job_id)
        except jobs_service.JobNotFound as exc:
            return jsonify(error=exc.message), 404
        except jobs_service.JobForbidden as exc:
            return jsonify(error=exc.message), 403
        return jsonify(progress_document(job))

    @expose("/<int:job_id>/cancel/", methods=("POST",))
    def cancel(self, job_id: int):
        self._job(job_id)
        try:
            job = jobs_service.cancel(db.session, _actor(), job_id)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(gettext("%(title)s cancelled.", title=job.title), "success")
        return redirect(url_for(".details", job_id=job_id))

    @expose("/<int:job_id>/notify/", methods=("POST",))
    def notify(self, job_id: int):
        """Ask (or stop asking) to be e-mailed when the job finishes."""
        self._job(job_id)
        wanted = request.form.get("notify") == "1"
        try:
            jobs_service.set_notify(db.session, _actor(), job_id, wanted)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(
                gettext("You will get an e-mail when this job finishes.")
                if wanted
                else gettext("No e-mail will be sent for this job."),
                "success",
            )
        return redirect(url_for(".details", job_id=job_id))

    @expose("/<int:job_id>/download/")
    def download(self, job_id: int):
        job = self._job(job_id)
        path = jobs_service.result_file(job)
        if path is None:
            flash(_no_file_reason(job), "error")
            return redirect(url_for(".details", job_id=job_id))
        return send_file(
            path,
            as_attachment=True,
            download_name=job.result_name or path.name,
            mimetype=_mimetype(path.suffix),
            max_age=0,
        )


MIMETYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".jsonl": "application/x-ndjson",
}


def _mimetype(suffix: str) -> str:
    return MIMETYPES.get(suffix, "application/octet-stream")


def _no_file_reason(job: Job) -> str:
    if job.result_removed_at is not None:
        return gettext(
            "The result of this job was removed on %(day)s (results are kept for a "
            "limited number of days). Start it again.",
            day=localtime.show_date(job.result_removed_at),
        )
    if job.state != "done":
        return gettext(
            "This job has no file to download: its state is %(state)s.",
            state=word_of(JobState, job.state),
        )
    return gettext("The result file of this job is missing. Start it again.")
