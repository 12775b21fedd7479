"""Imports: the rules of an import's life, from upload to confirmation.

- An upload is stored with its file (in the database, so that any host serves the
  preview and the confirmation) and the file's SHA-256. A file whose SHA-256 was
  confirmed before for the same kind is refused, naming the earlier import: the same
  rows are not applied twice.
- Only the person who uploaded an import sees and confirms it (holders of
  ``staff.manage`` see everyone's, as with jobs).
- A confirmation is single use: it moves the import from ``previewed`` to
  ``applying`` with a conditional ``UPDATE``; a second submit (another tab, a
  double click, a replayed request) finds nothing to confirm and is refused.
- The mapping can change until the import is confirmed; each change asks for a new
  preview.

The stored file is written and read a part at a time (``import_file_part``,
``StoredFile``): an import never holds a copy of its whole file read back from the
database, nor has the database driver copy it whole on the way in.

Reading the file, checking the rows and applying them is ``console.jobs.imports``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any, BinaryIO

from flask_babel import gettext
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from console import localtime
from console.database import rowcount
from console.models import (
    ImportBatch,
    ImportCheckedRow,
    ImportFilePart,
    ImportState,
    Job,
    JobState,
    User,
)
from console.models.base import utcnow
from console.models.imports import CONFIRMED_STATES
from console.permissions import STAFF_MANAGE
from console.services.errors import DomainError
from console.services.ids import row_id


class ImportRefused(DomainError):
    """The import (or this step of it) is refused; nothing was changed."""


class ImportNotFound(DomainError):
    """No import of this kind has this id."""


class ImportForbidden(DomainError):
    """The import belongs to someone else."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def confirmed_before(session: Session, kind: str, sha256: str) -> ImportBatch | None:
    """The earlier confirmed import of the same file for ``kind``, if any."""
    for earlier in session.scalars(
        select(ImportBatch)
        .where(
            ImportBatch.kind == kind,
            ImportBatch.sha256 == sha256,
            ImportBatch.state.in_([s.value for s in CONFIRMED_STATES]),
        )
        .order_by(ImportBatch.id)
    ).all():
        settle(session, earlier)  # a confirmation whose job died confirmed nothing
        if earlier.is_confirmed:
            return earlier
    return None


def already_imported_message(earlier: ImportBatch) -> str:
    when = earlier.confirmed_at or earlier.created_at
    return (
        f"This file was imported already: import #{earlier.id} ({earlier.file_name}), "
        f"confirmed by {earlier.owner.email} on {when:%Y-%m-%d %H:%M} UTC. "
        "Nothing was changed. To import changed rows, upload the changed file."
    )


PART = ImportFilePart.PART_BYTES


class StoredFile:
    """An import's stored file, read a part (``import_file_part``) at a time.

    A ``console.jobs.import_files.Source``: each ``open`` gives a seekable stream that
    reads from the database the part it is in, in the session's transaction.
    """

    def __init__(self, session: Session, batch: ImportBatch) -> None:
        self.session = session
        self.batch_id = batch.id
        self.size = batch.size

    def open(self) -> BinaryIO:
        return io.BufferedReader(_StoredReader(self))

    def part(self, number: int) -> bytes:
        data = self.session.execute(
            select(ImportFilePart.data).where(
                ImportFilePart.batch_id == self.batch_id, ImportFilePart.number == number
            )
        ).scalar_one_or_none()
        return bytes(data or b"")


class _StoredReader(io.RawIOBase):
    """A raw, seekable stream of a ``StoredFile``, for ``io.BufferedReader``; it keeps
    the one part it reads from."""

    def __init__(self, stored: StoredFile) -> None:
        self.stored = stored
        self.position = 0
        self.number = -1
        self.data = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.stored.size}
        self.position = max(0, start[whence] + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        number, start = divmod(self.position, PART)
        if number != self.number:
            self.data = b""  # let the part go before the next is read
            self.number, self.data = number, self.stored.part(number)
        piece = memoryview(self.data)[start : start + len(buffer)]
        buffer[: len(piece)] = piece
        self.position += len(piece)
        return len(piece)


def store(
    session: Session,
    actor: User,
    kind: str,
    *,
    file_name: str,
    file_format: str,
    data: bytes,
    headers: list[str],
    rows: int,
    mapping: Mapping[str, Any],
) -> ImportBatch:
    """Keep an uploaded file (already read and checked) as a new import; commits."""
    sha256 = digest(data)
    earlier = confirmed_before(session, kind, sha256)
    if earlier is not None:
        raise ImportRefused(already_imported_message(earlier))
    batch = ImportBatch(
        kind=kind,
        owner=actor,
        file_name=(file_name or "upload")[:255],
        file_format=file_format,
        size=len(data),
        sha256=sha256,
        rows=rows,
        headers=headers,
        mapping=dict(mapping),
        state=ImportState.UPLOADED.value,
    )
    try:
        session.add(batch)
        session.flush()
        # A part at a time: one value of the whole file would be copied whole.
        view = memoryview(data)
        for number, offset in enumerate(range(0, len(data), PART)):
            session.execute(
                insert(ImportFilePart).values(
                    batch_id=batch.id, number=number, data=bytes(view[offset : offset + PART])
                )
            )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return batch


def settle(session: Session, batch: ImportBatch) -> None:
    """Bring an import whose job ended without finishing it back to a state that says so.

    A job that failed, was cancelled or was given up (its worker died) applied nothing
    (the rows are written in one transaction at its very end): its import is marked
    failed, or back to be previewed, instead of waiting forever. Commits if it changes.
    """
    if batch.job_id is None or batch.state not in (
        ImportState.PREVIEWING,
        ImportState.APPLYING,
    ):
        return
    job = session.get(Job, batch.job_id, populate_existing=True)
    if job is None or not job.is_finished or job.state == JobState.DONE:
        return
    reason = job.error or f"The job was {job.state}."
    if batch.state == ImportState.APPLYING:
        batch.state = ImportState.FAILED.value
        batch.error = f"Nothing was imported: {reason}"[:2000]
        batch.finished_at = utcnow()
    else:
        batch.state = ImportState.UPLOADED.value
        batch.error = f"The preview did not finish: {reason}"[:2000]
    session.commit()


def batch_for(session: Session, actor: User, kind: str, batch_id: Any) -> ImportBatch:
    """The import ``batch_id`` of ``kind`` if ``actor`` may see it."""
    number = row_id(batch_id)
    batch = session.get(ImportBatch, number, populate_existing=True) if number is not None else None
    if batch is None or batch.kind != kind:
        raise ImportNotFound(f"There is no import number {str(batch_id)[:20]} here.")
    if batch.owner_id != actor.id and not actor.has_permission(STAFF_MANAGE):
        raise ImportForbidden("This import belongs to someone else; only its owner may open it.")
    settle(session, batch)
    return batch


def set_mapping(session: Session, batch: ImportBatch, mapping: Mapping[str, Any]) -> None:
    """Change which column each field is read from; the preview must be made again."""
    if batch.is_confirmed:
        raise ImportRefused(
            gettext(
                "Import #%(id)s was confirmed already; its mapping can no longer change.",
                id=batch.id,
            )
        )
    batch.mapping = dict(mapping)
    batch.state = ImportState.UPLOADED.value
    batch.report = None
    batch.error = None
    batch.job_id = None  # a preview job still running for the old mapping is not kept
    forget_checked_rows(session, batch.id)
    session.commit()


def record_preview(
    session: Session, batch_id: int, report: Mapping[str, Any], job_id: int | None = None
) -> bool:
    """Keep the preview's report; False when it is no longer wanted.

    That is when the import was confirmed meanwhile, or, for a preview made by job
    ``job_id``, when the mapping changed (or another preview started) since.
    """
    made_by = ImportBatch.job_id == job_id if job_id is not None else ImportBatch.job_id.is_(None)
    changed = rowcount(
        session.execute(
            update(ImportBatch)
            .where(
                ImportBatch.id == batch_id,
                made_by,
                ImportBatch.state.in_([ImportState.UPLOADED.value, ImportState.PREVIEWING.value]),
            )
            .values(state=ImportState.PREVIEWED.value, report=dict(report), error=None)
            .execution_options(synchronize_session=False)
        )
    )
    if changed:
        forget_checked_rows(session, batch_id, but=report.get("checked"))
    session.commit()
    return bool(changed)


def forget_checked_rows(session: Session, batch_id: int, *, but: str | None = None) -> None:
    """Delete the rows kept by the import's previews (but those of preview ``but``)."""
    statement = delete(ImportCheckedRow).where(ImportCheckedRow.batch_id == batch_id)
    if but is not None:
        statement = statement.where(ImportCheckedRow.preview != but)
    session.execute(statement.execution_options(synchronize_session=False))


def claim_preview(session: Session, batch_id: int, job_id: int) -> bool:
    """A preview job takes the import as it is mapped now; False if it is confirmed.

    Whether the page recorded the job first (``preview_started``) or not, the job
    then reads the mapping of the moment, and keeps its preview only if nobody mapped
    the import again meanwhile (``record_preview``). Commits.
    """
    changed = rowcount(
        session.execute(
            update(ImportBatch)
            .where(
                ImportBatch.id == batch_id,
                ImportBatch.state.in_([ImportState.UPLOADED.value, ImportState.PREVIEWING.value]),
            )
            .values(state=ImportState.PREVIEWING.value, job_id=job_id)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return bool(changed)


def preview_started(session: Session, batch: ImportBatch, job_id: int) -> None:
    batch.state = ImportState.PREVIEWING.value
    batch.job_id = job_id
    batch.report = None
    session.commit()


def confirm(session: Session, batch: ImportBatch, *, valid_only: bool) -> None:
    """Claim the import for applying (single use); ``ImportRefused`` when it cannot be.

    Commits. Whoever applies it next (this request or a job) finishes it with
    ``finish`` or ``fail``.
    """
    if batch.is_confirmed:
        raise ImportRefused(
            gettext(
                "Import #%(id)s was confirmed already (%(when)s); it is not applied twice.",
                id=batch.id,
                when=localtime.show(batch.confirmed_at),
            )
            if batch.confirmed_at
            else gettext(
                "Import #%(id)s was confirmed already; it is not applied twice.", id=batch.id
            )
        )
    if batch.state != ImportState.PREVIEWED:
        raise ImportRefused(
            gettext("Preview the import first: only a previewed import can be confirmed.")
        )
    earlier = confirmed_before(session, batch.kind, batch.sha256)
    if earlier is not None and earlier.id != batch.id:
        raise ImportRefused(already_imported_message(earlier))
    now = utcnow()
    claimed = rowcount(
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch.id, ImportBatch.state == ImportState.PREVIEWED.value)
            .values(
                state=ImportState.APPLYING.value,
                valid_only=valid_only,
                confirmed_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    session.refresh(batch)
    if not claimed:
        raise ImportRefused(
            gettext(
                "Import #%(id)s was confirmed already (or its mapping changed); nothing more was "
                "applied.",
                id=batch.id,
            )
        )


def finish(session: Session, batch_id: int, report: Mapping[str, Any]) -> None:
    """Mark the import applied with its outcome, in the transaction that applied it."""
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(state=ImportState.APPLIED.value, report=dict(report), finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    forget_checked_rows(session, batch_id)


def fail(session: Session, batch_id: int, message: str) -> None:
    """Mark a confirmed import failed (nothing applied); commits.

    A failed import keeps its file: it can be previewed and confirmed again once the
    reason is gone (a record changed meanwhile, say).
    """
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(state=ImportState.FAILED.value, error=message[:2000], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    forget_checked_rows(session, batch_id)  # a failed import is previewed again
    session.commit()
