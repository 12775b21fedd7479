"""The Import pages of the customer and product lists: upload, map, preview, confirm.

``ImportMixin`` adds to a list view (``import_kind`` names what it imports):

- ``import_view`` (``/admin/<list>/import/``): the upload form, the template files,
  the person's recent imports; a posted file is read and checked
  (``console.jobs.import_files``) and kept as an import, then the person is taken to
- ``import_batch_view`` (``/import/<id>/``): the columns found, each field's column
  (auto-matched by header, changed with selects), the preview (counts, every error
  per row and field, every update's changes before and after) and the confirm form;
- ``import_preview`` (POST): keep the mapping and check the rows, at once or as a job;
- ``import_confirm`` (POST): apply, all or nothing or valid rows only, at once or as
  a job; single use;
- ``import_template`` (``/import/template.csv`` or ``.xlsx``): an empty file with the
  columns an import reads.

Every endpoint needs the list's write permission (declared in the view's
``endpoint_permissions``); the rules are ``console.services.imports`` and
``console.jobs.imports``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from console.database import db
from console.jobs import imports as engine
from console.jobs.import_files import FileRefused, read_table
from console.models import ImportBatch, ImportState
from console.permissions import satisfies
from console.services import imports as import_service
from console.services import jobs as jobs_service
from console.services.errors import DomainError

IMPORT_ENDPOINTS = (
    "import_view",
    "import_template",
    "import_batch_view",
    "import_preview",
    "import_confirm",
)
"""The endpoints ``ImportMixin`` adds; each needs the list's write permission."""


def import_permissions(write_permission: str) -> dict[str, str]:
    """``endpoint_permissions`` entries of the import endpoints of a list."""
    return dict.fromkeys(IMPORT_ENDPOINTS, write_permission)


def _actor():
    return current_user._get_current_object()


class ImportMixin:
    """Imports into a list view from CSV or XLSX files."""

    import_kind: str | None = None
    """What the list imports (``console.jobs.imports.SPECS``); None: no Import button."""

    def can_import(self) -> bool:
        """Whether the list shows its Import button (the endpoint checks again)."""
        return bool(self.import_kind) and satisfies(self._requirement("import_view"))  # type: ignore[attr-defined]

    @property
    def import_spec(self) -> engine.ImportSpec:
        if not self.import_kind:
            abort(404)
        return engine.spec_named(self.import_kind)

    def _batch(self, batch_id: Any) -> ImportBatch:
        try:
            return import_service.batch_for(db.session, _actor(), self.import_spec.kind, batch_id)
        except import_service.ImportNotFound:
            abort(404)
        except import_service.ImportForbidden:
            abort(403)

    def _batch_url(self, batch: ImportBatch) -> str:
        return self.get_url(".import_batch_view", batch_id=batch.id)  # type: ignore[attr-defined]

    # --- upload --------------------------------------------------------------------------

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self):
        spec = self.import_spec
        if request.method == "POST":
            batch = self._upload(spec)
            if batch is not None:
                return redirect(self._batch_url(batch))
        recent = db.session.scalars(
            select(ImportBatch)
            .where(ImportBatch.kind == spec.kind, ImportBatch.owner_id == _actor().id)
            .order_by(ImportBatch.id.desc())
            .limit(10)
        ).all()
        return self.render(  # type: ignore[attr-defined]
            "admin/imports/upload.html",
            spec=spec,
            recent=recent,
            max_bytes=current_app.config["IMPORT_MAX_BYTES"],
        )

    def _upload(self, spec: engine.ImportSpec) -> ImportBatch | None:
        """Read, check and keep the posted file; None (with a message) when refused."""
        limit = current_app.config["IMPORT_MAX_BYTES"]
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("Choose a CSV or XLSX file to import."), "error")
            return None
        # One byte past the limit is enough to know; the rest is never read into memory.
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            flash(
                gettext(
                    "The file is larger than %(limit)s bytes, the most an import takes. "
                    "Split it into smaller files. Nothing was changed.",
                    limit=format(limit, ","),
                ),
                "error",
            )
            return None
        try:
            table = read_table(data, engine.limits(current_app))
            mapping = engine.auto_mapping(spec, table.headers)
            return import_service.store(
                db.session,
                _actor(),
                spec.kind,
                file_name=upload.filename,
                file_format=table.file_format,
                data=data,
                headers=table.headers,
                rows=len(table.rows),
                mapping=mapping,
            )
        except (FileRefused, DomainError) as exc:
            flash(gettext("%(problem)s Nothing was changed.", problem=exc.message), "error")
            return None

    @expose("/import/template.<file_format>")
    def import_template(self, file_format: str):
        """An empty file with the columns an import reads (the exports' headers)."""
        spec = self.import_spec
        headers = [column.header for column in spec.columns]
        name = f"{spec.kind}-import-template"
        if file_format == "csv":
            buffer = io.StringIO()
            csv.writer(buffer).writerow(headers)
            return send_file(
                io.BytesIO(buffer.getvalue().encode("utf-8")),
                mimetype="text/csv",
                as_attachment=True,
                download_name=f"{name}.csv",
                max_age=0,
            )
        if file_format == "xlsx":
            import xlsxwriter

            out = io.BytesIO()
            workbook = xlsxwriter.Workbook(out, {"in_memory": True})
            sheet = workbook.add_worksheet(spec.kind.capitalize())
            sheet.write_row(0, 0, headers, workbook.add_format({"bold": True}))
            workbook.close()
            out.seek(0)
            return send_file(
                out,
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                as_attachment=True,
                download_name=f"{name}.xlsx",
                max_age=0,
            )
        abort(404)

    # --- map, preview, confirm -----------------------------------------------------------

    @expose("/import/<int:batch_id>/")
    def import_batch_view(self, batch_id: int):
        batch = self._batch(batch_id)
        spec = self.import_spec
        return self.render(  # type: ignore[attr-defined]
            "admin/imports/batch.html",
            spec=spec,
            batch=batch,
            report=batch.report,
            missing=engine.missing_columns(spec, batch.headers, batch.mapping),
            states=ImportState,
        )

    @expose("/import/<int:batch_id>/preview/", methods=("POST",))
    def import_preview(self, batch_id: int):
        batch = self._batch(batch_id)
        spec = self.import_spec
        back = redirect(self._batch_url(batch))
        try:
            mapping = engine.clean_mapping(spec, batch.headers, request.form)
            import_service.set_mapping(db.session, batch, mapping)
        except DomainError as exc:
            flash(exc.message, "error")
            return back
        problem = engine.missing_columns(spec, batch.headers, mapping)
        if problem:
            flash(gettext("%(problem)s Nothing was changed.", problem=problem), "error")
            return back
        if batch.rows > current_app.config["IMPORT_INLINE_MAX_ROWS"]:
            return self._start_job(batch, "preview")
        try:
            engine.preview(current_app, db.session, batch)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return back

    @expose("/import/<int:batch_id>/confirm/", methods=("POST",))
    def import_confirm(self, batch_id: int):
        batch = self._batch(batch_id)
        back = redirect(self._batch_url(batch))
        valid_only = request.form.get("mode") == "valid_only"
        try:
            import_service.confirm(db.session, batch, valid_only=valid_only)
        except DomainError as exc:
            flash(exc.message, "error")
            return back
        if batch.rows > current_app.config["IMPORT_INLINE_MAX_ROWS"]:
            return self._start_job(batch, "apply")
        try:
            outcome = engine.confirm_and_apply(current_app, db.session, batch, _actor())
        except DomainError as exc:
            flash(exc.message, "error")
            return back
        counts = outcome["counts"]
        figures = {key: f"{counts[key]:,}" for key in ("create", "update", "unchanged", "error")}
        flash(
            gettext(
                "Import #%(id)s applied: %(create)s created, %(update)s updated, "
                "%(unchanged)s unchanged, %(error)s rows in error left out.",
                id=batch.id,
                **figures,
            )
            if counts["error"]
            else gettext(
                "Import #%(id)s applied: %(create)s created, %(update)s updated, "
                "%(unchanged)s unchanged.",
                id=batch.id,
                **figures,
            ),
            "success",
        )
        return back

    def _start_job(self, batch: ImportBatch, step: str):
        doing = "preview of" if step == "preview" else "applying"
        title = f"Import #{batch.id}: {doing} {batch.file_name}"
        try:
            parameters = {
                "batch": batch.id,
                "step": step,
                # The job's page links back to the import (its preview or outcome).
                "back": self._batch_url(batch),
                "back_label": f"import #{batch.id}",
            }
            job = jobs_service.start(db.session, _actor(), engine.KIND, parameters, title=title)
        except DomainError as exc:
            if step == "apply":
                import_service.fail(db.session, batch.id, exc.message)
            flash(exc.message, "error")
            return redirect(self._batch_url(batch))
        batch = db.session.get(ImportBatch, batch.id)
        if step == "preview":
            import_service.preview_started(db.session, batch, job.id)
        else:
            batch.job_id = job.id
            db.session.commit()
        rows = f"{batch.rows:,}"
        flash(
            gettext(
                "The file has %(rows)s rows: it is checked as a job. "
                "Come back to the import when the job is done.",
                rows=rows,
            )
            if step == "preview"
            else gettext(
                "The file has %(rows)s rows: it is applied as a job. "
                "Come back to the import when the job is done.",
                rows=rows,
            ),
            "info",
        )
        return redirect(url_for("jobs.details", job_id=job.id))
