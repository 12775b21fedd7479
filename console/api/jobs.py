"""Long work over the API: exports start as jobs (202 and the job's URL), jobs are read.

The jobs are the console's (``console.services.jobs``, ``console.jobs.exports``): the
same kinds, runners, permissions and result files as the Export menu of a list. A
token sees the jobs of its owner (all jobs when the owner manages staff), as a person
does in the console.
"""

from __future__ import annotations

from typing import Any

from flask import abort, send_file, url_for
from marshmallow import Schema, fields, validate

from console.api import auth
from console.api.base import api_blueprint, documented
from console.api.schemas import UtcDateTime
from console.database import db
from console.jobs import exports
from console.jobs.export_specs import SPECS
from console.models import Job, JobState
from console.permissions import CUSTOMERS_READ, EXPORT, ORDERS_READ, PRODUCTS_READ
from console.services import jobs as jobs_service

blp = api_blueprint("api_jobs", __name__, "/api/v1", "Exports as background jobs, and their state.")

EXPORTS: dict[str, tuple[str, str, str]] = {
    "orders": ("order", "Orders", ORDERS_READ),
    "customers": ("customer", "Customers", CUSTOMERS_READ),
    "products": ("product", "Products", PRODUCTS_READ),
}
"""Export name -> the console list it exports, its title, the permission to read it."""


class ExportArgs(Schema):
    format = fields.String(
        load_default="csv",
        validate=validate.OneOf(sorted(exports.FORMATS)),
        metadata={"example": "csv"},
    )


class JobSchema(Schema):
    id = fields.Integer(metadata={"example": 12})
    title = fields.String(metadata={"example": "Orders export (CSV)"})
    state = fields.String(
        metadata={"example": "running", "enum": [state.value for state in JobState]}
    )
    progress_done = fields.Integer(metadata={"example": 2000})
    progress_total = fields.Integer(allow_none=True, metadata={"example": 10000})
    error = fields.String(allow_none=True)
    created_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)
    url = fields.String(metadata={"example": "/api/v1/jobs/12"})
    result_url = fields.String(
        allow_none=True,
        metadata={"description": "Where the result file is downloaded, once done"},
    )


def shown(job: Job) -> dict[str, Any]:
    has_result = job.state == JobState.DONE.value and jobs_service.result_file(job) is not None
    return {
        "id": job.id,
        "title": job.title,
        "state": job.state,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "url": url_for("api_jobs.get", job_id=job.id),
        "result_url": url_for("api_jobs.result", job_id=job.id) if has_result else None,
    }


def _export_route(name: str) -> None:
    """``POST /exports/<name>``: the whole list as a job, whatever its size."""
    endpoint, title, read = EXPORTS[name]
    spec = SPECS[name]

    def start(args: dict[str, Any]):
        owner = auth.current_owner()
        export_format = exports.FORMATS[args["format"]]
        asked = exports.ExportRequest(
            view=endpoint,
            list_title=title,
            spec=spec,
            export_format=export_format,
            bom=False,
            search=None,
            filters=(),
        )
        job = jobs_service.start(
            db.session(),
            owner,
            exports.KIND,
            {
                "view": endpoint,
                "spec": spec.name,
                "format": export_format.name,
                "bom": False,
                "arguments": [],
            },
            title=f"{spec.title} export ({asked.format_label})",
            also=lambda job: exports.record_export(db.session(), owner, asked, job=job),
        )
        return shown(job), 202, {"Location": url_for("api_jobs.get", job_id=job.id)}

    start.__name__ = f"export_{name}"
    start.__doc__ = (
        f"Export every {name[:-1]} as a background job: answers 202 with the job, whose "
        "URL (also in Location) gives its progress and, once done, its result file."
    )
    view = documented(blp, 422)(start)
    view = blp.response(202, JobSchema)(view)
    view = blp.arguments(ExportArgs, location="query")(view)
    view = auth.requires(read, EXPORT)(view)
    blp.route(f"/exports/{name}", methods=["POST"], endpoint=f"export_{name}")(view)


for _name in EXPORTS:
    _export_route(_name)


def _job(job_id: int) -> Job:
    try:
        return jobs_service.job_for(db.session(), auth.current_owner(), job_id)
    except jobs_service.JobNotFound:
        abort(404, "There is no such job.")
    except jobs_service.JobForbidden as refused:
        abort(403, refused.message)


@blp.route("/jobs/<int:job_id>", methods=["GET"], endpoint="get")
@auth.requires()
@blp.response(200, JobSchema)
@documented(blp, 404)
def get_job(job_id: int):
    """A job of the token's owner: state, progress and, once done, the result's URL."""
    return shown(_job(job_id))


@blp.route("/jobs/<int:job_id>/result", methods=["GET"], endpoint="result")
@auth.requires()
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
@documented(blp, 404, 409)
def job_result(job_id: int):
    """The result file of a finished job (404 once removed by ``jobs prune``)."""
    job = _job(job_id)
    if job.state != JobState.DONE.value:
        abort(409, f"The job is {job.state}; its result is there once it is done.")
    path = jobs_service.result_file(job)
    if path is None:
        abort(404, "The result file is no longer kept.")
    return send_file(path, as_attachment=True, download_name=job.result_name)
