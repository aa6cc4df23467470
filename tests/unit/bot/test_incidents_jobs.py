"""Agent jobs: one job per step run, results settle the step, restart recovery."""

from __future__ import annotations

from typing import Any

import pytest

from bot.incidents import (
    IncidentClosed,
    IncidentService,
    JobState,
    MissingChoice,
    StepStatus,
    UnknownJob,
)
from tests.unit.bot.conftest import FakeClock
from tests.unit.bot.helpers import kinds, open_prod, run_in_threads

STEP = "opt1.run-rollback"


def begin(svc: IncidentService, incident_id: str, request_id: str = "req-1", actor: str = "U1") -> Any:
    return svc.begin_job(incident_id, STEP, "rollback", {"marker_mode": "hard"}, actor, request_id)


def test_begin_job_runs_step_and_records_job(svc: IncidentService, clock: FakeClock) -> None:
    inc = open_prod(svc)
    job = begin(svc, inc.id)
    assert job is not None
    assert (job.state, job.operation, job.args, job.started_by, job.started_at) == (
        JobState.running,
        "rollback",
        {"marker_mode": "hard"},
        "U1",
        clock.now,
    )
    step = svc.step_state(inc.id, STEP)
    assert (step.state, step.job_id, step.actor) == (StepStatus.running, "req-1", "U1")
    assert svc.job("req-1") == job and svc.jobs(inc.id) == [job]
    assert kinds(svc, inc.id)[-1] == "agent.started"


def test_begin_job_twice_makes_one_job(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert begin(svc, inc.id, "req-1") is not None
    assert begin(svc, inc.id, "req-2", "U2") is None
    assert begin(svc, inc.id, "req-1") is None
    assert [j.request_id for j in svc.jobs(inc.id)] == ["req-1"]
    assert kinds(svc, inc.id).count("agent.started") == 1


def test_concurrent_begin_job_makes_one_job(svc: IncidentService) -> None:
    inc = open_prod(svc)
    results = run_in_threads(10, lambda i: begin(svc, inc.id, f"req-{i}", f"U{i}"))
    started = [r for r in results if r is not None]
    assert len(started) == 1 and not isinstance(started[0], Exception)
    assert len(svc.jobs(inc.id)) == 1
    assert svc.step_state(inc.id, STEP).job_id == started[0].request_id


def test_begin_job_refused_on_done_step_and_closed_incident(svc: IncidentService) -> None:
    inc = open_prod(svc)
    svc.transition(inc.id, STEP, "done", "U1")
    assert begin(svc, inc.id) is None
    svc.resolve(inc.id, "U1", "ok")
    with pytest.raises(IncidentClosed):
        svc.begin_job(inc.id, "opt1.verify", "verify", {}, "U1", "req-9")
    with pytest.raises(ValueError):
        svc.begin_job(inc.id, "opt1.verify", "rm_rf", {}, "U1", "req-9")


@pytest.mark.parametrize(
    ("outcome", "error", "state", "note"),
    [
        ("ok", None, "done", None),
        ("noop", None, "done", "nothing to do"),
        ("failed", None, "failed", "failed: 3 checks failed"),
        (
            "refused",
            {"kind": "refused", "code": "app_running", "message": "the app is running"},
            "failed",
            "refused: the app is running",
        ),
        (
            "invalid",
            {"kind": "invalid", "code": "bad", "message": "no such backup"},
            "failed",
            "invalid: no such backup",
        ),
        ("error", {"kind": "error", "code": "boom", "message": "agent crashed"}, "failed", "error: agent crashed"),
        ("unreachable", None, "failed", "unreachable"),
    ],
)
def test_finish_job_settles_step(
    svc: IncidentService, clock: FakeClock, outcome: str, error: Any, state: str, note: str | None
) -> None:
    inc = open_prod(svc)
    begin(svc, inc.id)
    clock.advance(seconds=42)
    result = {"summary": "3 checks failed"} if outcome == "failed" else None
    job = svc.finish_job("req-1", outcome, result, error)
    assert (job.state, job.outcome, job.result, job.error, job.finished_at) == (
        JobState.finished,
        outcome,
        result,
        error,
        clock.now,
    )
    step = svc.step_state(inc.id, STEP)
    assert (step.state, step.note, step.at) == (state, note, clock.now)
    finished = [e for e in svc.events(inc.id) if e.kind == "agent.finished"]
    assert len(finished) == 1 and finished[0].data["outcome"] == outcome
    assert finished[0].data["step_state"] == state
    assert svc.running_jobs() == []


def test_finish_job_is_idempotent(svc: IncidentService) -> None:
    inc = open_prod(svc)
    begin(svc, inc.id)
    first = svc.finish_job("req-1", "ok", {"summary": "done"})
    again = svc.finish_job("req-1", "failed", {"summary": "late duplicate"})
    assert again == first
    assert svc.step_state(inc.id, STEP).state == "done"
    assert kinds(svc, inc.id).count("agent.finished") == 1


def test_failed_job_can_be_retried_with_a_new_job(svc: IncidentService) -> None:
    inc = open_prod(svc)
    begin(svc, inc.id, "req-1")
    svc.finish_job("req-1", "refused", None, {"message": "app running"})
    job2 = begin(svc, inc.id, "req-2", "U2")
    assert job2 is not None
    assert svc.step_state(inc.id, STEP).job_id == "req-2"
    svc.finish_job("req-2", "ok", {"summary": "ok"})
    assert svc.step_state(inc.id, STEP).state == "done"
    assert [j.outcome for j in svc.jobs(inc.id)] == ["refused", "ok"]


def test_running_jobs_and_display_ref(svc: IncidentService) -> None:
    a = open_prod(svc, "prod")
    b = open_prod(svc, "staging")
    begin(svc, a.id, "req-a")
    begin(svc, b.id, "req-b")
    svc.finish_job("req-a", "ok")
    assert [j.request_id for j in svc.running_jobs()] == ["req-b"]
    assert svc.set_job_display_ref("req-b", "C1:1700.5") is True
    assert svc.job("req-b").display_ref == "C1:1700.5"
    with pytest.raises(UnknownJob):
        svc.job("nope")
    with pytest.raises(UnknownJob):
        svc.finish_job("nope", "ok")


def test_agent_args_fill_chosen_backup(svc: IncidentService) -> None:
    inc = open_prod(svc)
    assert svc.agent_args(inc.id, "opt3.emergency-backup") == {"label": "emergency"}
    with pytest.raises(MissingChoice):
        svc.agent_args(inc.id, "opt2.restore")
    svc.choose_backup(inc.id, "pre-migration.db", "U1")
    assert svc.agent_args(inc.id, "opt2.restore") == {"backup": "pre-migration.db"}
    assert svc.agent_args(inc.id, "opt3.replace-db") == {"source": "pre-migration.db"}


def test_verify_db_state_compares_with_the_chosen_backup(svc: IncidentService) -> None:
    inc = svc.open("production", "critical", "", "C1", "U1")
    svc.choose_backup(inc.id, "db_backup_20250730-203339.db", "U1")
    assert svc.agent_args(inc.id, "opt3.verify-db") == {"baseline_backup": "db_backup_20250730-203339.db"}
    assert svc.agent_args(inc.id, "opt3.replace-db") == {"source": "db_backup_20250730-203339.db"}
    # a picked baseline is also what option 1's verify compares with (after an inconclusive one)
    assert svc.agent_args(inc.id, "opt1.verify") == {"baseline_backup": "db_backup_20250730-203339.db"}
