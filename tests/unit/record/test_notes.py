"""The live notes read model and the Resolve dialog's prefill, over the full incident."""

from __future__ import annotations

from bot.incidents import IncidentService
from bot.record.notes import build_notes
from bot.record.prefill import suggest_notes
from tests.unit.bot.conftest import FakeClock
from tests.unit.record.scenario import SHA_BACKUP, full_incident


def test_notes_while_it_runs(svc: IncidentService, clock: FakeClock) -> None:
    inc = svc.open("production", "critical", "x", "C1", "U0ALICE").id
    notes = build_notes(svc, inc, clock=clock)
    assert (notes.state, notes.minutes_left, notes.pages) == ("open", 15.0, [])
    assert notes.current_step is not None and (notes.current_step.title, notes.current_step.state) == (
        "Alert the team",
        "pending",
    )
    assert notes.rows_lost is None and notes.last_agent_result is None
    svc.begin_job(inc, "opt1.run-rollback", "rollback", {}, "U0BOB", "r1")
    clock.advance(minutes=20)
    notes = build_notes(svc, inc, clock=clock)
    assert notes.minutes_left == -5.0
    assert notes.current_step is not None
    assert (notes.current_step.title, notes.current_step.state, notes.current_step.holder) == (
        "Run rollback script",
        "running",
        "U0BOB",
    )


def test_notes_after_the_full_incident(svc: IncidentService, clock: FakeClock) -> None:
    inc = full_incident(svc, clock)
    notes = build_notes(svc, inc, clock=clock)
    assert notes.state == "resolved" and notes.chosen_option == 2
    assert notes.option_title == "Option 2: Backup Restoration"
    assert [(p.person.id, p.acked_at is not None) for p in notes.pages] == [("U0BOB", True), ("U0CAROL", False)]
    assert notes.rows_lost == 1 and notes.rows_lost_names == ["after.png"]
    assert notes.backup_restored == "pre-migration-20250101.db" and notes.backup_sha256_prefix == SHA_BACKUP[:12]
    assert notes.last_agent_result == "`tail_logs` ok: 100 lines"
    texts = [d.text for d in notes.decisions]
    assert "Chose option 2 (was option 1)" in texts and "`verify` failed: 2 checks failed" in texts
    assert texts[-1].startswith("Incident resolved")


def test_prefill_states_what_the_bot_saw(svc: IncidentService, clock: FakeClock) -> None:
    inc = full_incident(svc, clock)
    notes = suggest_notes(svc, inc)
    assert "media listing 500s after migration" in notes.root_cause
    assert "`verify` failed (baseline_counts, files_present)" in notes.root_cause
    assert "Followed Option 2: Backup Restoration." in notes.resolution_summary
    assert f"Restored pre-migration-20250101.db (SHA-256 {SHA_BACKUP[:12]}" in notes.resolution_summary
    assert "Restarted the app." in notes.resolution_summary and "Verify passed at 03:11 UTC" in notes.resolution_summary
    assert "Option 1 failed" in notes.lessons_learned
