"""``flask audit export-prune``: old events go to a JSON-lines file, then out of the table."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from console.database import db
from console.models import AuditEvent
from tests.audit_support import events
from tests.factories import CustomerFactory


def old_event(day: dt.date, **values) -> AuditEvent:
    event = AuditEvent(
        at=dt.datetime.combine(day, dt.time(9, 30)),
        actor_email=values.pop("actor_email", "former@example.com"),
        action=values.pop("action", "update"),
        record_type="customer",
        record_id=values.pop("record_id", 1),
        changes=values.pop("changes", {"phone": ["+1", "+2"]}),
    )
    db.session.add(event)
    db.session.commit()
    return event


def test_export_then_prune_moves_exactly_the_old_events(app, runner, tmp_path):
    CustomerFactory()  # a recent event, which must stay
    kept_recent = {e.id for e in events()}
    first = old_event(dt.date(2024, 3, 1), changes={"notes": [None, "café ☕"]})
    second = old_event(dt.date(2024, 12, 31))
    on_the_day = old_event(dt.date(2025, 1, 1))  # not *before* the date: stays
    first_id, second_id, on_the_day_id = first.id, second.id, on_the_day.id
    out = tmp_path / "audit-2024.jsonl"

    result = runner.invoke(args=["audit", "export-prune", "--before", "2025-01-01", "--out", out])
    assert result.exit_code == 0, result.output
    assert "Exported 2 events" in result.output

    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [first_id, second_id]
    assert lines[0]["changes"] == {"notes": [None, "café ☕"]}
    assert lines[0]["at"] == "2024-03-01T09:30:00Z"
    assert lines[0]["actor_email"] == "former@example.com"
    assert set(lines[0]) >= {"action", "record_type", "record_id", "client_addr", "request_id"}

    remaining = set(db.session.scalars(select(AuditEvent.id)))
    assert remaining == kept_recent | {on_the_day_id}
    assert not (tmp_path / "audit-2024.jsonl.partial").exists()


def test_nothing_to_export_writes_no_file_and_deletes_nothing(app, runner, tmp_path):
    CustomerFactory()
    before = {e.id for e in events()}
    out = tmp_path / "empty.jsonl"
    result = runner.invoke(args=["audit", "export-prune", "--before", "2000-01-01", "--out", out])
    assert result.exit_code == 0 and "no file written" in result.output
    assert not out.exists()
    assert {e.id for e in events()} == before


def test_an_existing_file_is_never_overwritten_and_nothing_is_pruned(app, runner, tmp_path):
    old_event(dt.date(2024, 1, 1))
    out = tmp_path / "audit.jsonl"
    out.write_text("earlier export\n", encoding="utf-8")
    result = runner.invoke(args=["audit", "export-prune", "--before", "2025-01-01", "--out", out])
    assert result.exit_code != 0 and "already exists" in result.output
    assert out.read_text(encoding="utf-8") == "earlier export\n"
    assert len(events()) == 1


def test_a_bad_date_is_refused_with_a_message(app, runner, tmp_path):
    old_event(dt.date(2024, 1, 1))
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(args=["audit", "export-prune", "--before", "31/12/2024", "--out", out])
    assert result.exit_code == 2 and "does not match the format" in result.output
    assert len(events()) == 1 and not out.exists()


def test_a_missing_folder_is_refused_and_nothing_is_pruned(app, runner, tmp_path):
    old_event(dt.date(2024, 1, 1))
    out = tmp_path / "no-such-folder" / "audit.jsonl"
    result = runner.invoke(args=["audit", "export-prune", "--before", "2025-01-01", "--out", out])
    assert result.exit_code != 0 and "does not exist" in result.output
    assert len(events()) == 1


def test_only_exported_events_are_deleted_even_if_the_file_lost_some(app, tmp_path, monkeypatch):
    """If the file read back holds fewer events than selected, nothing is deleted."""
    from console.services import audit_retention
    from console.services.errors import DomainError

    old_event(dt.date(2024, 1, 1))
    old_event(dt.date(2024, 1, 2))
    real_ids_in = audit_retention._ids_in
    # A disk that lost the last line: the check must catch it before deleting.
    monkeypatch.setattr(audit_retention, "_ids_in", lambda path: real_ids_in(path)[:-1])
    out = tmp_path / "audit.jsonl"
    try:
        audit_retention.export_and_prune(db.session, dt.date(2025, 1, 1), out)
    except DomainError as exc:
        assert "nothing was deleted" in exc.message
    else:
        raise AssertionError("a short export must be refused")
    assert len(events()) == 2
    assert not out.exists()
