"""Retention of the audit trail: export old events to a JSON-lines file, then prune them.

Events are kept until an operator moves them out. ``export_and_prune`` writes every
event older than a date to a new file, reads the file back, and deletes exactly the
events the file holds (by id) in one transaction, after checking that the count read
back matches the count selected. Whatever goes wrong, an event is never deleted unless
it is in the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from console.database import rowcount
from console.models import AuditEvent
from console.services.errors import DomainError

BATCH = 500
COLUMNS = [column.key for column in AuditEvent.__table__.columns]


@dataclass
class PruneReport:
    """What one run exported and deleted."""

    exported: int
    deleted: int
    path: Path | None


def _line(row: Any) -> str:
    data: dict[str, Any] = {name: row[name] for name in COLUMNS}
    data["at"] = row["at"].isoformat() + "Z"
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def export_and_prune(session: Session, before: dt.date, out: Path) -> PruneReport:
    """Move the events recorded before ``before`` (UTC midnight) to the file ``out``.

    ``out`` must not exist yet: an earlier export is never overwritten. Raises
    ``DomainError`` with a readable message when nothing may be deleted safely.
    """
    out = Path(out)
    if out.exists():
        raise DomainError(
            gettext("%(out)s already exists; choose a new file name for this export.", out=out)
        )
    if not out.parent.is_dir():
        raise DomainError(gettext("The folder %(parent)s does not exist.", parent=out.parent))
    cutoff = dt.datetime.combine(before, dt.time.min)
    # Fix the set now: events recorded while the export runs are not candidates.
    last_id = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.at < cutoff))
    if last_id is None:
        return PruneReport(exported=0, deleted=0, path=None)
    selected = (AuditEvent.at < cutoff) & (AuditEvent.id <= last_id)
    expected = session.scalar(select(func.count()).select_from(AuditEvent).where(selected))

    partial = out.with_name(out.name + ".partial")
    written = 0
    with open(partial, "x", encoding="utf-8") as fh:
        after_id = 0
        while True:
            # Plain rows, not ORM objects: a large export must not fill the session.
            batch = (
                session.execute(
                    select(AuditEvent.__table__)
                    .where(selected, AuditEvent.id > after_id)
                    .order_by(AuditEvent.id)
                    .limit(BATCH)
                )
                .mappings()
                .all()
            )
            if not batch:
                break
            for row in batch:
                fh.write(_line(row) + "\n")
            written += len(batch)
            after_id = batch[-1]["id"]
        fh.flush()
        os.fsync(fh.fileno())

    ids = _ids_in(partial)
    if written != expected or len(ids) != written:
        partial.unlink()
        raise DomainError(
            gettext(
                "Export check failed (selected %(expected)s, wrote %(written)s, read back "
                "%(count)s); nothing was deleted and no file was kept.",
                expected=expected,
                written=written,
                count=len(ids),
            )
        )
    partial.rename(out)

    deleted = 0
    try:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            result = session.execute(
                delete(AuditEvent).where(AuditEvent.id.in_(chunk), selected),
                execution_options={"synchronize_session": False},
            )
            deleted += rowcount(result)
        if deleted != len(ids):
            raise DomainError(
                gettext(
                    "Deleting would remove %(deleted)s events but the file holds %(count)s; "
                    "nothing was deleted. The export stays in %(out)s.",
                    deleted=deleted,
                    count=len(ids),
                    out=out,
                )
            )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return PruneReport(exported=written, deleted=deleted, path=out)


def _ids_in(path: Path) -> list[int]:
    """The event ids of an export file, read back from disk."""
    ids = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            ids.append(int(json.loads(line)["id"]))
    return ids
