"""The record of a full incident: contents, metrics, Markdown a person reads, JSON against the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from bot.incidents import IncidentService
from bot.record.builder import RecordBuilder
from bot.record.markdown import render_markdown
from bot.record.model import ClosingNotes, IncidentRecord
from bot.record.schema import record_json_schema, record_json_schema_text
from tests.unit.bot.conftest import FakeClock
from tests.unit.record.scenario import SHA_BACKUP, SHA_SAFETY, full_incident

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "incident-record.schema.json"
NAMES = {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol"}


@pytest.fixture
def record(svc: IncidentService, clock: FakeClock) -> IncidentRecord:
    inc = full_incident(svc, clock)
    notes = ClosingNotes(
        root_cause="migration binary | kept writing", resolution_summary="restored", lessons_learned="x"
    )
    return RecordBuilder(svc, clock=clock).build(inc, notes=notes, names=NAMES, time_zone="Europe/Berlin")


def test_full_incident_record_has_every_step_agent_result_and_metric(record: IncidentRecord) -> None:
    ops = [(o.operation, o.outcome) for o in record.agent_operations]
    assert ops == [
        ("stop_app", "ok"),
        ("rollback", "ok"),
        ("verify", "failed"),
        ("restore", "ok"),
        ("verify", "ok"),
        ("start_app", "ok"),
        ("tail_logs", "ok"),
    ]
    rollback, bad_verify, restore = record.agent_operations[1], record.agent_operations[2], record.agent_operations[3]
    assert [r.file_name for r in rollback.rows_lost] == ["after.png"]
    assert rollback.counts_before["media_live"] == 15 and rollback.counts_after["images_live"] == 10
    assert bad_verify.failed_checks == ["baseline_counts", "files_present"]
    assert [(b.role, b.name, b.sha256) for b in restore.backups] == [
        ("restored", "pre-migration-20250101.db", SHA_BACKUP),
        ("safety copy", "pre-restore-20250102.db", SHA_SAFETY),
    ]
    assert record.agent_operations[-1].log_lines == ["GET /api/cdn/image/all 200", "pipe | inside"]
    states = {s.step_id: s.state for s in record.steps}
    assert len(states) == 49
    assert (
        states["opt1.verify"] == "failed" and states["opt2.verify"] == "done" and states["post.restart-app"] == "done"
    )
    metrics = {m.name: m for m in record.metrics}
    assert metrics["time_to_first_ack"].minutes == 2 and metrics["time_to_first_ack"].met is True
    assert metrics["time_to_rollback_complete"].minutes == 7 and metrics["time_to_rollback_complete"].met is True
    assert metrics["time_to_resolved"].minutes == 10 and metrics["time_to_resolved"].met is True
    assert [p.person.name for p in record.pages] == ["bob", "carol"]
    assert record.pages[0].acked_by is not None and record.pages[1].acked_at is None
    kinds = [e.kind for e in record.timeline]
    assert kinds[0] == "incident.opened" and kinds[-1] == "incident.resolved"
    assert [e.at for e in record.timeline] == sorted(e.at for e in record.timeline)
    key = [e.text for e in record.timeline if e.key]
    assert "Chose option 2 (was option 1)" in key and any("`verify` failed" in k for k in key)
    assert [r.title for r in record.resolution_steps][-3:] == [
        "Verify restoration success",
        "Restart the application",
        "Check application logs for errors",
    ]
    assert [f.step_id for f in record.follow_ups] == [
        "followup.investigate",
        "followup.remigration",
        "followup.update-docs",
    ]


def _table(markdown: str, heading: str) -> list[list[str]]:
    """The first pipe table under a heading, as rows of cells (how a person reads it)."""
    section = markdown.split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("#") and rows:
            break
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append(cells)
        elif rows:
            break
    assert rows and set(rows[1][0]) <= {"-", ":"}, f"no table under {heading}"
    return [rows[0], *rows[2:]]


def test_markdown_reads_back_with_headings_tables_and_local_times(record: IncidentRecord) -> None:
    md = render_markdown(record)
    headings = re.findall(r"^(#{1,3}) (.+)$", md, flags=re.M)
    assert headings[0] == ("#", "RB-1: production media migration rollback — resolved")
    names = [h[1] for h in headings if h[0] == "##"]
    assert names == [
        "Summary",
        "Metrics",
        "Root cause",
        "Resolution",
        "Lessons learned",
        "Pages and acknowledgements",
        "Timeline",
        "Checklist",
        "Agent operations",
        "Resolution steps",
        "Follow-ups",
    ]
    summary = dict((r[0], r[1]) for r in _table(md, "## Summary")[1:])
    # opened 03:04:05 UTC = 04:04:05 in Berlin (CET, winter)
    assert summary["Opened"] == "2025-01-02 04:04:05 CET by alice (U0ALICE)"
    assert summary["Severity"] == "critical (target 15 min)"
    metrics = _table(md, "## Metrics")
    assert metrics[0] == ["Metric", "Time", "Target", "Result", "Note"]
    assert metrics[1][:4] == ["Time to first acknowledgement", "2 min 00 s", "15 min", "✅ met"]
    timeline = _table(md, "## Timeline")
    assert timeline[1][:3] == ["04:04:05", "alice (U0ALICE)", "incident.opened"]
    assert "All times are in Europe/Berlin" in md
    assert "migration binary \\| kept writing" not in md  # free text outside tables is not escaped
    assert "migration binary | kept writing" in md
    assert "ab12cd34" in md and "after.png" in md and "pipe | inside" in md
    ops = re.findall(r"^### \d+\. `(\w+)` — (\w+)", md, flags=re.M)
    assert ops[2] == ("verify", "failed") and ops[3] == ("restore", "ok")


def test_json_validates_against_the_published_schema(record: IncidentRecord) -> None:
    assert SCHEMA_FILE.read_text() == record_json_schema_text(), "regenerate: rollback-bot record-schema"
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(record.model_dump_json())
    jsonschema.validate(document, schema)
    broken = {**document, "summary": {**document["summary"], "severity": "sev0"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, record_json_schema())
    assert IncidentRecord.model_validate_json(record.model_dump_json()) == record


def test_open_incident_metrics_miss_after_the_target(svc: IncidentService, clock: FakeClock) -> None:
    inc = svc.open("staging", "critical", "x", "C1", "U1")
    early = {m.name: m for m in RecordBuilder(svc, clock=clock).build(inc.id).metrics}
    assert early["time_to_first_ack"].met is None and early["time_to_first_ack"].note == "no pages"
    clock.advance(minutes=16)
    late = {m.name: m for m in RecordBuilder(svc, clock=clock).build(inc.id).metrics}
    assert late["time_to_resolved"].met is False and late["time_to_rollback_complete"].met is False


def test_cancelled_incident_gives_a_short_record(svc: IncidentService, clock: FakeClock) -> None:
    inc = svc.open("staging", "minor", "false alarm", "C1", "U1")
    svc.transition(inc.id, "immediate.assess", "done", "U1")
    clock.advance(minutes=3)
    svc.cancel(inc.id, "U1", "false alarm: a test monitor")
    rec = RecordBuilder(svc, clock=clock).build(inc.id, kind="short", notes=ClosingNotes(resolution_summary="none"))
    assert [s.step_id for s in rec.steps] == ["immediate.assess"]
    resolved = {m.name: m for m in rec.metrics}["time_to_resolved"]
    assert resolved.met is None and resolved.note == "cancelled (false alarm)"
    md = render_markdown(rec)
    assert "Short record (cancelled)" in md and "No agent operations ran" in md and "No pages" in md
