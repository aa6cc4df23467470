"""Incident lifecycle, the step state machine and its idempotency, restart safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.incidents import (
    Incident,
    IncidentAlreadyOpen,
    IncidentService,
    Severity,
    StepStatus,
    UnknownIncident,
    UnknownStep,
)
from bot.runbook import Runbook
from bot.store import Store
from tests.unit.bot.conftest import FakeClock
from tests.unit.bot.helpers import kinds, open_prod, run_in_threads

# -- opening ------------------------------------------------------------------------------------------


def test_severity_targets() -> None:
    assert [(s.value, s.target_minutes) for s in Severity] == [
        ("critical", 15),
        ("major", 60),
        ("minor", 240),
    ]


def test_open_creates_incident_steps_and_event(svc: IncidentService, runbook: Runbook, clock: FakeClock) -> None:
    inc = svc.open("prod", Severity.major, "media broken", "C1", "U1")
    assert inc.id == "RB-1"
    assert (inc.environment, inc.severity, inc.target_minutes, inc.state) == ("prod", "major", 60, "open")
    assert inc.opened_at == clock.now and inc.thread_ts is None
    assert svc.get(inc.id) == inc
    steps = svc.steps(inc.id)
    assert list(steps) == runbook.step_ids()
    assert {s.state for s in steps.values()} == {StepStatus.pending}
    assert kinds(svc, inc.id) == ["incident.opened"]
    assert svc.events(inc.id)[0].data["severity"] == "major"


def test_bad_severity_rejected(svc: IncidentService) -> None:
    with pytest.raises(ValueError):
        svc.open("prod", "apocalyptic", "x", "C1", "U1")


def test_one_open_incident_per_environment(svc: IncidentService) -> None:
    first = open_prod(svc)
    with pytest.raises(IncidentAlreadyOpen) as info:
        open_prod(svc)
    assert info.value.incident.id == first.id
    other = open_prod(svc, "staging")
    assert other.id == "RB-2"
    assert svc.open_for("prod") == first and svc.open_for("dev") is None
    assert svc.resolve(first.id, "U2", "rolled back") is True
    assert svc.resolve(first.id, "U2", "again") is False
    again = open_prod(svc)
    assert again.id == "RB-3"
    assert [i.id for i in svc.incidents("open")] == ["RB-2", "RB-3"]


def test_concurrent_opens_same_service_make_one_incident(svc: IncidentService) -> None:
    results = run_in_threads(8, lambda i: open_prod(svc))
    opened = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, IncidentAlreadyOpen)]
    assert len(opened) == 1 and len(refused) == 7
    assert len(svc.incidents()) == 1


def test_concurrent_opens_separate_connections_make_one_incident(db_path: Path, runbook: Runbook) -> None:
    """Separate connections (as separate processes would have): BEGIN IMMEDIATE + the unique index."""
    stores = [Store(db_path) for _ in range(8)]
    services = [IncidentService(s, runbook) for s in stores]
    try:
        for env in ("prod", "staging", "dev", "qa", "edge"):

            def open_env(i: int, env: str = env) -> Incident:
                return open_prod(services[i], env)

            results = run_in_threads(8, open_env)
            assert sum(not isinstance(r, Exception) for r in results) == 1, results
            assert sum(isinstance(r, IncidentAlreadyOpen) for r in results) == 7, results
    finally:
        for s in stores:
            s.close()


def test_unique_index_guards_even_without_the_check(svc: IncidentService, store: Store) -> None:
    import sqlite3

    inc = open_prod(svc)
    row = svc.get(inc.id).model_dump(mode="json") | {"id": "RB-99", "seq": 99}
    with pytest.raises(sqlite3.IntegrityError):
        store.insert("incidents", row)


def test_thread_and_section_messages(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.attach_thread(inc.id, "111.222") is True
    assert svc.attach_thread(inc.id, "333.444") is False
    assert svc.by_thread("C1", "111.222") == svc.get(inc.id)
    assert svc.by_thread("C1", "999.0") is None
    svc.set_section_message(inc.id, "immediate", "111.300")
    svc.set_section_message(inc.id, "opt1", "111.301")
    svc.set_section_message(inc.id, "opt1", "111.302")
    assert svc.section_messages(inc.id) == {"immediate": "111.300", "opt1": "111.302"}
    with pytest.raises(KeyError):
        svc.set_section_message(inc.id, "nope", "1")


def test_unknown_incident(svc: IncidentService) -> None:
    with pytest.raises(UnknownIncident):
        svc.get("RB-404")
    with pytest.raises(KeyError):
        svc.steps("RB-404")
    with pytest.raises(UnknownIncident):
        svc.record("RB-404", "note")


def test_cancel_frees_environment(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.cancel(inc.id, "U1", "false alarm") is True
    closed = svc.get(inc.id)
    assert (closed.state, closed.closed_by, closed.resolution) == ("cancelled", "U1", "false alarm")
    assert kinds(svc, inc.id)[-1] == "incident.cancelled"
    assert open_prod(svc).id == "RB-2"


# -- step transitions ---------------------------------------------------------------------------------


ALLOWED = [
    ("pending", "done", "done"),
    ("pending", "skip", "skipped"),
    ("pending", "start", "running"),
    ("done", "undo", "pending"),
    ("skipped", "undo", "pending"),
    ("failed", "done", "done"),
    ("failed", "skip", "skipped"),
    ("failed", "retry", "running"),
    ("failed", "start", "running"),
    ("failed", "undo", "pending"),
    ("running", "succeed", "done"),
    ("running", "fail", "failed"),
]
REFUSED = [
    ("pending", "undo", "same"),
    ("pending", "succeed", "not_allowed"),
    ("pending", "fail", "not_allowed"),
    ("pending", "retry", "not_allowed"),
    ("done", "done", "same"),
    ("done", "skip", "not_allowed"),
    ("skipped", "done", "not_allowed"),
    ("skipped", "skip", "same"),
    ("done", "retry", "not_allowed"),
    ("running", "done", "running"),
    ("running", "skip", "running"),
    ("running", "undo", "running"),
    ("running", "start", "running"),
    ("failed", "fail", "same"),
]
PATHS = {
    "pending": [],
    "done": ["done"],
    "skipped": ["skip"],
    "running": ["start"],
    "failed": ["start", "fail"],
}


def put_in_state(svc: IncidentService, incident_id: str, step_id: str, state: str) -> None:
    for action in PATHS[state]:
        assert svc.transition(incident_id, step_id, action, "Uprep").changed
    assert svc.step_state(incident_id, step_id).state == state


@pytest.mark.parametrize(("start", "action", "end"), ALLOWED)
def test_allowed_transitions(svc: IncidentService, clock: FakeClock, start: str, action: str, end: str) -> None:
    inc = open_prod(svc)
    put_in_state(svc, inc.id, "immediate.alert-team", start)
    before = len(svc.events(inc.id))
    clock.advance(minutes=1)
    t = svc.transition(inc.id, "immediate.alert-team", action, "U7", note="why")
    assert t.changed and t.code == "ok" and t.reason == ""
    assert t.previous == start
    assert (t.step.state, t.step.actor, t.step.at, t.step.note) == (end, "U7", clock.now, "why")
    events = svc.events(inc.id)
    assert len(events) == before + 1
    last = events[-1]
    assert (last.kind, last.actor, last.step_id) == (f"step.{action}", "U7", "immediate.alert-team")
    assert last.data == {"from": start, "to": end, "note": "why"}


@pytest.mark.parametrize(("start", "action", "code"), REFUSED)
def test_refused_transitions_change_nothing(svc: IncidentService, start: str, action: str, code: str) -> None:
    inc = open_prod(svc)
    put_in_state(svc, inc.id, "immediate.alert-team", start)
    before_events = svc.events(inc.id)
    before_step = svc.step_state(inc.id, "immediate.alert-team")
    t = svc.transition(inc.id, "immediate.alert-team", action, "U7")
    assert not t.changed and t.code == code and t.reason
    assert t.step == before_step and t.previous == start
    assert svc.events(inc.id) == before_events


def test_refusal_reasons(svc: IncidentService) -> None:
    inc = open_prod(svc)
    svc.transition(inc.id, "immediate.alert-team", "done", "U1")
    assert svc.transition(inc.id, "immediate.alert-team", "done", "U2").reason == "already done by U1"
    svc.transition(inc.id, "immediate.assess", "start", "U1")
    assert svc.transition(inc.id, "immediate.assess", "done", "U2").reason == "running"


def test_double_click_records_one_event(svc: IncidentService) -> None:
    inc = open_prod(svc)
    first = svc.transition(inc.id, "opt1.verify", "done", "U1")
    second = svc.transition(inc.id, "opt1.verify", "done", "U2")
    assert first.changed and not second.changed
    assert second.step.actor == "U1"
    assert kinds(svc, inc.id).count("step.done") == 1


def test_concurrent_double_click_records_one_event(svc: IncidentService) -> None:
    inc = open_prod(svc)
    results = run_in_threads(10, lambda i: svc.transition(inc.id, "opt1.verify", "done", f"U{i}"))
    assert sum(r.changed for r in results) == 1
    assert kinds(svc, inc.id).count("step.done") == 1
    winner = next(r for r in results if r.changed)
    assert svc.step_state(inc.id, "opt1.verify").actor == winner.step.actor


def test_unknown_step_and_action(svc: IncidentService) -> None:
    inc = open_prod(svc)
    with pytest.raises(UnknownStep):
        svc.transition(inc.id, "opt9.nope", "done", "U1")
    with pytest.raises(ValueError):
        svc.transition(inc.id, "opt1.verify", "explode", "U1")
    assert kinds(svc, inc.id) == ["incident.opened"]


def test_steps_editable_after_close(svc: IncidentService) -> None:
    inc = open_prod(svc)
    svc.resolve(inc.id, "U1", "done")
    assert svc.transition(inc.id, "followup.investigate.logs", "done", "U1").changed


# -- choices, events ----------------------------------------------------------------------------------


def test_choose_option_recorded_once(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.choose_option(inc.id, 1, "U1") is True
    assert svc.choose_option(inc.id, 1, "U2") is False
    assert svc.choose_option(inc.id, 2, "U2") is True
    assert svc.get(inc.id).chosen_option == 2
    chosen = [e for e in svc.events(inc.id) if e.kind == "option.chosen"]
    assert [(e.actor, e.data) for e in chosen] == [
        ("U1", {"option": 1, "previous": None}),
        ("U2", {"option": 2, "previous": 1}),
    ]
    with pytest.raises(KeyError):
        svc.choose_option(inc.id, 7, "U1")
    svc.resolve(inc.id, "U1", "ok")
    assert svc.choose_option(inc.id, 3, "U1") is False


def test_choose_backup(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.choose_backup(inc.id, "main-2025.db", "U1") is True
    assert svc.choose_backup(inc.id, "main-2025.db", "U1") is False
    assert svc.get(inc.id).chosen_backup == "main-2025.db"
    assert kinds(svc, inc.id).count("backup.chosen") == 1
    for bad in ("", "../etc/passwd", "a/b.db", ".."):
        with pytest.raises(ValueError):
            svc.choose_backup(inc.id, bad, "U1")


def test_record_and_events(svc: IncidentService, clock: FakeClock) -> None:
    inc = open_prod(svc)
    clock.advance(seconds=30)
    ev = svc.record(inc.id, "thread.message", actor="U3", step_id="opt1.verify", text="looks fine", n=2)
    assert ev.data == {"text": "looks fine", "n": 2} and ev.at == clock.now
    assert svc.events(inc.id)[-1] == ev


# -- restart safety -----------------------------------------------------------------------------------


def test_new_service_on_same_file_continues(db_path: Path, runbook: Runbook, clock: FakeClock) -> None:
    store = Store(db_path)
    svc = IncidentService(store, runbook, clock=clock)
    inc = open_prod(svc)
    svc.attach_thread(inc.id, "1.1")
    svc.set_section_message(inc.id, "opt1", "1.2")
    svc.transition(inc.id, "immediate.alert-team", "done", "U1")
    svc.choose_option(inc.id, 1, "U1")
    job = svc.begin_job(inc.id, "opt1.run-rollback", "rollback", {"marker_mode": "hard"}, "U1", "req-1")
    assert job is not None
    store.close()

    store2 = Store(db_path)
    try:
        svc2 = IncidentService(store2, runbook, clock=clock)
        again = svc2.get(inc.id)
        assert (again.chosen_option, again.thread_ts, again.opened_at) == (1, "1.1", inc.opened_at)
        assert svc2.by_thread("C1", "1.1") == again
        assert svc2.section_messages(inc.id) == {"opt1": "1.2"}
        assert svc2.step_state(inc.id, "immediate.alert-team").state == "done"
        assert [j.request_id for j in svc2.running_jobs()] == ["req-1"]
        with pytest.raises(IncidentAlreadyOpen):
            open_prod(svc2)
        # the double click survives a restart too
        assert not svc2.transition(inc.id, "immediate.alert-team", "done", "U2").changed
        assert svc2.begin_job(inc.id, "opt1.run-rollback", "rollback", {}, "U2", "req-2") is None
        svc2.finish_job("req-1", "ok", {"summary": "media dropped"})
        assert svc2.step_state(inc.id, "opt1.run-rollback").state == "done"
        assert open_prod(svc2, "staging").id == "RB-2"
    finally:
        store2.close()


def test_a_thread_message_is_kept_once_per_ts(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.record_thread_message(inc.id, "U3", "1700000000.000100", "restoring now")
    assert not svc.record_thread_message(inc.id, "U3", "1700000000.000100", "restoring now")  # redelivered
    assert svc.record_thread_message(inc.id, "U4", "1700000000.000200", "done")
    kept = [(e.actor, e.data) for e in svc.events(inc.id) if e.kind == "thread.message"]
    assert kept == [
        ("U3", {"ts": "1700000000.000100", "text": "restoring now"}),
        ("U4", {"ts": "1700000000.000200", "text": "done"}),
    ]
