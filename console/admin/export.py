"""The Export menu of the list pages: CSV, XLSX or JSON Lines, at once or as a job.

``ExportMixin.export`` replaces Flask-Admin's export endpoint (same URL,
``/admin/<list>/export/<format>/``, same permission: the list's and ``export``). It
answers POST only, with the CSRF token: starting an export has effects (a job, an
audit event), so a link or an image on another site must not start one; a GET answers
405. The menu's entries are small forms whose address carries the list's current
search and filters. It counts the rows up to ``EXPORT_INLINE_MAX_ROWS`` + 1 and either
streams the file in the response or starts an ``export`` job and takes the person to
its progress page; either way the export is recorded in the audit trail (who, which
list, search and filters, format, rows or job). Query arguments of its own: ``of``
names the export when a list has several (orders: ``orders`` or ``order_lines``),
``bom=1`` puts a byte-order mark before a CSV (for Excel).

What each export contains, and how the rows are read and written, is
``console.jobs.export_specs`` and ``console.jobs.exports``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from console.database import db
from console.jobs import exports
from console.jobs.export_specs import SPECS, ExportSpec
from console.services import jobs as jobs_service
from console.services.errors import DomainError

neutralise_formula = exports.neutralise_formula
"""Re-exported: the rule every spreadsheet cell of an export follows."""

MENU_FORMATS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("csv", "CSV", {}),
    ("csv", "CSV for Excel (UTF-8 with BOM)", {"bom": "1"}),
    ("xlsx", "Excel (XLSX)", {}),
    ("jsonl", "JSON Lines", {}),
)
"""The entries of the Export menu for each export of a list: format, label, options."""


class ExportMixin:
    """A list view's exports: declared by name in ``export_specs``, served by ``export``."""

    export_specs: tuple[str, ...] = ()
    """The exports the list offers (``console.jobs.export_specs.SPECS``), the default
    first; a list with none offers no export."""

    export_types = list(exports.FORMATS)
    list_template = "admin/model/console_list.html"

    def export_menu(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """``(title, [(label, url), ...])`` per export: the Export menu of the list page.

        Each URL, where the entry's form posts, carries the list's current search and
        filters.
        """
        arguments = dict(exports.list_arguments(request.args.items(multi=True)))
        menu = []
        for name in self.export_specs:
            spec = SPECS[name]
            entries = []
            for export_type, label, options in MENU_FORMATS:
                query = {**arguments, **options}
                if name != self.export_specs[0]:
                    query["of"] = name
                entries.append((label, self.get_url(".export", export_type=export_type, **query)))
            menu.append((spec.title, entries))
        return menu

    def _list_url(self) -> str:
        return self.get_url(".index_view", **dict(exports.list_arguments(request.args.items())))

    @expose("/export/<export_type>/", methods=("POST",))
    def export(self, export_type: str):
        """The list as it is filtered now, in ``export_type``: at once, or as a job."""
        export_format = exports.FORMATS.get(export_type)
        if export_format is None:
            flash(exports.unknown_format_message(export_type), "error")
            return redirect(self._list_url())
        name = request.args.get("of") or (self.export_specs[0] if self.export_specs else "")
        if name not in self.export_specs:
            flash(
                gettext("This list has no export called %(name)s.", name=repr(name[:40])), "error"
            )
            return redirect(self._list_url())
        spec = SPECS[name]
        bom = export_format.name == "csv" and request.args.get("bom") == "1"
        # Read once: an invalid filter value is flashed by the reading.
        arguments = self._get_list_extra_args()
        asked = self._export_request(spec, export_format, bom, arguments)
        ids = exports.filtered_ids(self, spec, arguments)
        limit = current_app.config["EXPORT_INLINE_MAX_ROWS"]
        rows = exports.count_rows(db.session(), spec, ids, limit)
        if rows > limit:
            return self._export_as_job(asked, limit)
        exports.record_export(db.session(), current_user._get_current_object(), asked, rows=rows)
        db.session.commit()
        return self._export_now(spec, export_format, ids, bom)

    def _export_request(
        self, spec: ExportSpec, export_format: exports.ExportFormat, bom: bool, arguments: Any
    ) -> exports.ExportRequest:
        """The export asked for, with the list's search and filters (``arguments``, the
        list's ``ViewArgs``) as a person reads them."""
        filters = tuple(
            f"{name} {self._filters[index].operation()} {value}"
            for index, name, value in arguments.filters or ()
        )
        return exports.ExportRequest(
            view=self.endpoint,
            list_title=str(self.name),
            spec=spec,
            export_format=export_format,
            bom=bom,
            search=arguments.search or None,
            filters=filters,
        )

    def _export_as_job(self, asked: exports.ExportRequest, limit: int):
        spec, export_format, bom = asked.spec, asked.export_format, asked.bom
        actor = current_user._get_current_object()
        try:
            job = jobs_service.start(
                db.session(),
                actor,
                exports.KIND,
                {
                    "view": self.endpoint,
                    "spec": spec.name,
                    "format": export_format.name,
                    "bom": bom,
                    "arguments": exports.list_arguments(request.args.items(multi=True)),
                },
                title=f"{spec.title} export ({asked.format_label})",
                also=lambda job: exports.record_export(db.session(), actor, asked, job=job),
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(self._list_url())
        flash(
            gettext(
                "This export has more than %(limit)s rows, so it runs in the background. "
                "Its progress is shown here; download the file when it is done.",
                limit=format(limit, ","),
            ),
            "info",
        )
        return redirect(url_for("jobs.details", job_id=job.id))

    def _export_now(
        self, spec: ExportSpec, export_format: exports.ExportFormat, ids: Any, bom: bool
    ) -> Response:
        """Stream the file (CSV, JSON Lines) or send it once written (XLSX)."""
        size = current_app.config["EXPORT_BATCH_SIZE"]
        name = exports.file_name(spec, export_format)
        if export_format.name == "xlsx":
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / name
                rows = exports.batches(db.session(), spec, ids, size)
                exports.write_xlsx(path, spec, rows, lambda _written: None)
                data = io.BytesIO(path.read_bytes())
            db.session.close()
            return send_file(
                data, mimetype=export_format.mimetype, as_attachment=True, download_name=name
            )

        def body():
            try:
                session = db.session()
                chunks = (
                    exports.csv_chunks(spec, exports.csv_batches(session, spec, ids, size), bom=bom)
                    if export_format.name == "csv"
                    else exports.jsonl_chunks(spec, exports.batches(session, spec, ids, size))
                )
                for chunk in chunks:
                    yield chunk.encode("utf-8")
            finally:
                # The rows are read while the response streams: give the connection
                # back as soon as the last one is sent.
                db.session.close()

        return Response(
            stream_with_context(body()),
            mimetype=export_format.mimetype,
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )
