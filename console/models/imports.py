"""Imports of customers and products from a file: the upload, its mapping, its preview.

An import is a row of ``import_batch`` from the upload on: the file itself (kept in
the database, so that the preview and the confirmation, separate requests perhaps
served by different hosts, read the same bytes: ``import_file_part``, in parts that
are written and read one at a time), its SHA-256, the columns found, the
person's mapping of columns to fields, the preview's counts and report, and, once
confirmed, how it was applied. A confirmation moves the row from ``previewed`` to
``applying`` with a conditional ``UPDATE``, so a second submit finds nothing to
confirm; a file whose SHA-256 was confirmed before for the same kind is refused.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString, lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.database import Model
from console.models.base import label_of, utcnow

if TYPE_CHECKING:
    from console.models.staff import User


class ImportState(enum.StrEnum):
    UPLOADED = "uploaded"
    """Read and mapped automatically; waiting for a preview."""
    PREVIEWING = "previewing"
    """The preview runs as a job."""
    PREVIEWED = "previewed"
    """The preview's counts and report are ready; it may be confirmed."""
    APPLYING = "applying"
    """Confirmed: being applied (at once or as a job)."""
    APPLIED = "applied"
    FAILED = "failed"
    """Confirmed, but nothing was applied (``error`` says why)."""

    @property
    def label(self) -> LazyString:
        return STATE_LABELS[self]


STATE_LABELS: dict[ImportState, LazyString] = {
    ImportState.UPLOADED: lazy_pgettext("import state", "Uploaded"),
    ImportState.PREVIEWING: lazy_pgettext("import state", "Previewing"),
    ImportState.PREVIEWED: lazy_pgettext("import state", "Previewed"),
    ImportState.APPLYING: lazy_pgettext("import state", "Applying"),
    ImportState.APPLIED: lazy_pgettext("import state", "Applied"),
    ImportState.FAILED: lazy_pgettext("import state", "Failed"),
}
"""How each state of an import reads on pages, in the reader's language."""


_STATE_VALUES = ", ".join(f"'{s.value}'" for s in ImportState)
CONFIRMED_STATES = frozenset({ImportState.APPLYING, ImportState.APPLIED})
"""States in which the file counts as confirmed: it may not be imported again."""


class ImportBatch(Model):
    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATE_VALUES})", name="state_known"),
        CheckConstraint("kind IN ('customers', 'products', 'stock')", name="kind_known"),
        # "Was this file confirmed before?" is asked at every upload.
        Index("ix_import_batch_kind_sha256", "kind", "sha256"),
        Index("ix_import_batch_owner_id_created_at", "owner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    """What the rows are: ``customers`` or ``products``."""
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    """``csv`` or ``xlsx``, as found from the content (not from the name)."""
    size: Mapped[int] = mapped_column()
    """The file's bytes (kept in ``import_file_part``)."""
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(default=0, server_default="0")
    """Data rows in the file (the header row not counted)."""
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Field -> the column (index in ``headers``) it is read from."""

    state: Mapped[str] = mapped_column(
        String(16), default=ImportState.UPLOADED.value, server_default="uploaded"
    )
    valid_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Confirmed as "valid rows only" (rows in error skipped) instead of all or nothing."""
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The latest preview (or the outcome once applied): counts, row errors, changes."""
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    """The job of the latest preview or application, when it ran as one."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()

    owner: Mapped[User] = relationship()

    @property
    def is_confirmed(self) -> bool:
        return self.state in CONFIRMED_STATES

    @property
    def state_label(self) -> str:
        """The state in the reader's language (``STATE_LABELS``)."""
        return label_of(ImportState, self.state)

    def __str__(self) -> str:
        return f"Import #{self.id} ({self.file_name})"


class ImportFilePart(Model):
    """One part of an import's file: ``PART_BYTES`` bytes from ``number * PART_BYTES``.

    A file is kept in parts so that neither storing it nor reading it back ever holds
    the whole file at once (``console.services.imports.StoredFile``): a single value
    of the whole file is copied whole by the database driver on the way in and out.
    """

    __tablename__ = "import_file_part"

    PART_BYTES = 256 * 1024

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batch.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportCheckedRow(Model):
    """A row of an import as its preview checked it, kept until the import is applied.

    Rows to create, update or leave unchanged, with the values the form gave and the
    matched record's id and version (``console.jobs.imports``): the confirmation
    writes them as checked when their record is still at that version (and a row to
    create still matches no record), rather than checking every row again; a row whose
    record changed since is caught. ``preview`` names the preview that checked it (the
    import's report says which preview counts).
    """

    __tablename__ = "import_checked_row"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batch.id", ondelete="CASCADE"), primary_key=True
    )
    preview: Mapped[str] = mapped_column(String(32), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int | None] = mapped_column()
    version: Mapped[int | None] = mapped_column()
    data: Mapped[str] = mapped_column(Text)
    """The form's values, as JSON (amounts as text)."""
