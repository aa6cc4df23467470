"""JobRunner: one job per step, the step settled from the result, failures mapped, fallbacks offered."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain import AgentJob
from bot.incidents import IncidentService
from bot.jobs import JobRunner, StartRefusal
from bot.runbook import load_runbook
from bot.store import Store
from handlers.steps.agent_op import refusal_text
from ops.client import AgentAuthError, AgentTimeout, AgentUnreachable, JobView
from ops.models import BackupInfo
from tests.conftest import wait_for

# One entry of a backups_list result, as the agent sends it.
BACKUP = {
    "name": "db_backup_20250730-203339.db",
    "kind": "go-fast-cdn",
    "size": 4096,
    "sha256": "ab" * 32,
    "valid": True,
    "integrity": "ok",
}


class FakeClient:
    def __init__(self, outcomes: dict[str, Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def run(self, operation: str, args: dict[str, Any], request_id: str, **kw: Any) -> JobView:
        self.calls.append((operation, args, request_id))
        self.gate.wait(5)
        outcome = self.outcomes.get(operation, "ok")
        if isinstance(outcome, Exception):
            raise outcome
        if kw.get("on_progress"):
            kw["on_progress"]("halfway")
        result = {"summary": f"{operation} {outcome}", "backups": [BACKUP]}
        return JobView(
            job_id="j1", request_id=request_id, operation=operation, args=args, caller="bot", state="finished",
            outcome=outcome, result=result, created_at=datetime.now(UTC),
            error={"kind": "refused", "code": "journal_present", "message": "j"} if outcome == "refused" else None,
        )  # fmt: skip

    def close(self) -> None: ...


class FakeAgents:
    def __init__(self, client: FakeClient | None) -> None:
        self.client = client

    def client_for(self, environment: str) -> FakeClient | None:
        return self.client

    def url_for(self, environment: str) -> str | None:
        return "http://127.0.0.1:1" if self.client else None

    def close(self) -> None: ...


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.done = threading.Event()

    def job_started(self, job: AgentJob) -> None:
        self.events.append(("started", job.step_id))

    def job_progress(self, job: AgentJob, lines: list[str]) -> None:
        self.events.append(("progress", lines[-1]))

    def job_finished(self, job: AgentJob) -> None:
        self.events.append(("finished", job.outcome))
        self.done.set()

    def offer_fallback(self, incident_id: str, option: int, after: AgentJob, backups: list[BackupInfo]) -> None:
        self.events.append(("offer", (option, [b.name for b in backups])))


def make(tmp_path: Path, client: FakeClient | None) -> tuple[IncidentService, JobRunner, Recorder, str]:
    service = IncidentService(Store(tmp_path / "s.db"), load_runbook())
    rec = Recorder()
    runner = JobRunner(service, FakeAgents(client), rec)  # type: ignore[arg-type]
    incident = service.open("production", "critical", "", "C1", "U1")
    return service, runner, rec, incident.id


def wait_finished(rec: Recorder) -> None:
    assert rec.done.wait(5)
    rec.done.clear()


def test_ok_result_marks_the_step_done(tmp_path: Path) -> None:
    service, runner, rec, inc = make(tmp_path, FakeClient({}))
    started = runner.start(inc, "immediate.stop-app", "U1")
    assert started.job is not None and started.refusal is None
    wait_finished(rec)
    assert service.step_state(inc, "immediate.stop-app").state == "done"
    assert ("progress", "halfway") in rec.events
    runner.close()


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("failed", "failed"),
        ("refused", "refused"),
        (AgentUnreachable("connection refused"), "unreachable"),
        (AgentTimeout("too slow"), "timeout"),
        (AgentAuthError("401"), "unauthorized"),
    ],
)
def test_failures_fail_the_step_with_the_reason(tmp_path: Path, outcome: Any, expected: str) -> None:
    service, runner, rec, inc = make(tmp_path, FakeClient({"status": outcome}))
    runner.start(inc, "immediate.assess", "U1")
    wait_finished(rec)
    job = service.jobs(inc)[0]
    assert job.outcome == expected
    state = service.step_state(inc, "immediate.assess")
    assert state.state == "failed" and expected in (state.note or "")
    runner.close()


def test_second_start_while_running_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    client = FakeClient({})
    client.gate.clear()
    service, runner, rec, inc = make(tmp_path, client)
    assert runner.start(inc, "opt1.run-rollback", "U1").job is not None
    second = runner.start(inc, "opt1.run-rollback", "U2")
    assert second.job is None and second.refusal == StartRefusal.already_running
    assert "already running" in refusal_text(second, service.runbook)
    client.gate.set()
    wait_finished(rec)
    assert [c[0] for c in client.calls] == ["rollback"]
    runner.close()


def test_rollback_failure_offers_option_2_with_the_hosts_backups(tmp_path: Path) -> None:
    client = FakeClient({"rollback": "failed"})
    service, runner, rec, inc = make(tmp_path, client)
    runner.start(inc, "opt1.run-rollback", "U1")
    wait_finished(rec)
    offers = wait_for(lambda: [e for e in rec.events if e[0] == "offer"], what="offer")
    assert offers == [("offer", (2, ["db_backup_20250730-203339.db"]))]
    assert [c[0] for c in client.calls] == ["rollback", "backups_list"]
    assert [e.data["option"] for e in service.events(inc) if e.kind == "fallback.offered"] == [2]
    runner.close()


def test_restore_failure_offers_option_3_and_status_failure_offers_nothing(tmp_path: Path) -> None:
    client = FakeClient({"restore": "failed", "status": "failed"})
    service, runner, rec, inc = make(tmp_path, client)
    service.choose_backup(inc, "db_backup_20250730-203339.db", "U1")
    runner.start(inc, "opt2.restore", "U1", confirmed_backup="db_backup_20250730-203339.db")
    wait_finished(rec)
    wait_for(lambda: [e for e in rec.events if e[0] == "offer"], what="offer")
    runner.start(inc, "immediate.assess", "U1")
    wait_finished(rec)
    assert [e[1][0] for e in rec.events if e[0] == "offer"] == [3]
    runner.close()


def test_restore_without_a_chosen_backup_is_refused_before_any_call(tmp_path: Path) -> None:
    client = FakeClient({})
    service, runner, rec, inc = make(tmp_path, client)
    out = runner.start(inc, "opt2.restore", "U1")
    assert out.job is None and out.refusal == StartRefusal.backup_not_chosen
    assert "choose a backup first (the backup menu in Option 2)" in refusal_text(out, service.runbook)
    assert client.calls == [] and service.step_state(inc, "opt2.restore").state == "pending"


def test_no_agent_for_the_environment_is_refused(tmp_path: Path) -> None:
    service, runner, rec, inc = make(tmp_path, None)
    out = runner.start(inc, "immediate.stop-app", "U1")
    assert out.job is None and out.refusal == StartRefusal.no_agent
    assert "no host agent is configured for `production`" in refusal_text(out, service.runbook)


def test_recover_reattaches_to_running_jobs_with_the_same_request_id(tmp_path: Path) -> None:
    client = FakeClient({})
    service, runner, rec, inc = make(tmp_path, client)
    job = service.begin_job(inc, "immediate.assess", "status", {}, "U1", "RB-1.immediate.assess.abc")
    assert job is not None
    assert runner.recover() == 1
    wait_finished(rec)
    assert client.calls == [("status", {}, "RB-1.immediate.assess.abc")]
    assert service.step_state(inc, "immediate.assess").state == "done"
    runner.close()


def test_shutdown_leaves_an_interrupted_job_running_for_the_next_process(tmp_path: Path) -> None:
    client = FakeClient({"status": AgentUnreachable("client closed by shutdown")})
    client.gate.clear()
    service, runner, rec, inc = make(tmp_path, client)
    assert runner.start(inc, "immediate.assess", "U1").job is not None
    runner.close()
    client.gate.set()
    import time

    time.sleep(0.3)
    assert service.step_state(inc, "immediate.assess").state == "running"
    assert [j.state for j in service.running_jobs()] == ["running"]
    assert not rec.done.is_set()


@pytest.mark.parametrize("outcome", ["refused", "noop", "invalid", AgentUnreachable("down"), AgentAuthError("401")])
def test_refusals_and_unreachable_agents_do_not_move_to_the_next_option(tmp_path: Path, outcome: Any) -> None:
    """Fix the cause and Retry: a refusal must not push the team towards a backup restore."""
    service, runner, rec, inc = make(tmp_path, FakeClient({"rollback": outcome}))
    runner.start(inc, "opt1.run-rollback", "U1")
    wait_finished(rec)
    import time

    time.sleep(0.1)
    assert [e for e in rec.events if e[0] == "offer"] == []
    assert "fallback.offered" not in [e.kind for e in service.events(inc)]
    runner.close()


def test_restore_runs_only_with_the_backup_the_person_confirmed(tmp_path: Path) -> None:
    client = FakeClient({})
    service, runner, rec, inc = make(tmp_path, client)
    service.choose_backup(inc, "db_backup_20250730-203339.db", "U1")
    service.choose_backup(inc, "rollback-agent_20261124-055702-890397_emergency.db", "U2")
    stale = runner.start(inc, "opt2.restore", "U1", confirmed_backup="db_backup_20250730-203339.db")
    assert stale.job is None and stale.refusal == StartRefusal.backup_changed
    assert "press Run again" in refusal_text(stale, service.runbook)
    unpinned = runner.start(inc, "opt2.restore", "U1")
    assert unpinned.job is None
    assert client.calls == [] and service.step_state(inc, "opt2.restore").state == "pending"
    ok = runner.start(inc, "opt2.restore", "U1", confirmed_backup="rollback-agent_20261124-055702-890397_emergency.db")
    assert ok.job is not None and ok.job.args == {"backup": "rollback-agent_20261124-055702-890397_emergency.db"}
    wait_finished(rec)
    runner.close()


def test_a_slack_error_when_showing_the_start_does_not_strand_the_step(tmp_path: Path) -> None:
    service, runner, rec, inc = make(tmp_path, FakeClient({}))

    def boom(job: AgentJob) -> None:
        raise RuntimeError("slack said ratelimited")

    rec.job_started = boom  # type: ignore[method-assign]
    assert runner.start(inc, "immediate.assess", "U1").job is not None
    wait_finished(rec)
    assert service.step_state(inc, "immediate.assess").state == "done"
    runner.close()


def test_a_slow_job_is_watched_again_with_the_same_request_id_not_failed(tmp_path: Path) -> None:
    class SlowClient(FakeClient):
        def run(self, operation: str, args: dict[str, Any], request_id: str, **kw: Any) -> JobView:
            if len(self.calls) < 2:
                self.calls.append((operation, args, request_id))
                raise AgentTimeout("still running", job_id="j1")
            return super().run(operation, args, request_id, **kw)

    client = SlowClient({})
    service = IncidentService(Store(tmp_path / "s.db"), load_runbook())
    rec = Recorder()
    runner = JobRunner(service, FakeAgents(client), rec, poll_window_s=1.0, deadline_s=10.0)  # type: ignore[arg-type]
    inc = service.open("production", "critical", "", "C1", "U1").id
    runner.start(inc, "immediate.assess", "U1")
    wait_finished(rec)
    assert len({c[2] for c in client.calls}) == 1 and len(client.calls) == 3
    assert ("progress", "still running after 1 s; still watching") in rec.events
    assert service.step_state(inc, "immediate.assess").state == "done"
    runner.close()


def test_an_app_stopped_assertion_goes_to_the_agent_and_the_timeline(tmp_path: Path) -> None:
    client = FakeClient({})
    service, runner, rec, inc = make(tmp_path, client)
    started = runner.start(inc, "opt1.run-rollback", "U1", app_stopped_by="U1")
    assert started.job is not None
    wait_finished(rec)
    assert client.calls[0][:2] == ("rollback", {"marker_mode": "hard", "app_stopped_by": "U1"})
    asserted = [e for e in service.events(inc) if e.kind == "app_stopped.asserted"]
    assert len(asserted) == 1 and asserted[0].actor == "U1" and asserted[0].data["operation"] == "rollback"
    # an operation that has nothing to prove refuses the assertion (nothing runs)
    refused = runner.start(inc, "immediate.assess", "U1", app_stopped_by="U1")
    assert refused.job is None and refused.refusal == StartRefusal.no_stop_needed
    assert len(client.calls) == 1
    runner.close()


def test_the_step_settles_from_its_declared_checks_and_ticks_its_section(tmp_path: Path) -> None:
    """verify's checks tick the three "Check verification results" sub-steps (or fail one with the
    detail); a person's own Done is never overridden."""
    service, runner, rec, inc = make(tmp_path, None)
    checks = [
        {"name": "media_absent", "passed": True, "detail": "no media table"},
        {"name": "media_indexes_absent", "passed": True, "detail": "none"},
        {"name": "kept_tables_present", "passed": True, "detail": "all present"},
        {"name": "counts_match_baseline", "passed": False, "detail": "images_live 2 != 3"},
        {"name": "legacy_files_present", "passed": True, "detail": "all files"},
    ]
    service.transition(inc, "opt1.check-results.tables-intact", "done", "U7")  # a person ticked it first
    job = service.begin_job(inc, "opt1.verify", "verify", {}, "U1", "r1")
    assert job is not None
    service.finish_job("r1", "failed", {"summary": "verify FAILED", "checks": checks})
    media = service.step_state(inc, "opt1.check-results.media-gone")
    assert (media.state, media.actor, media.job_id) == ("done", "rollback-agent", "r1")
    data = service.step_state(inc, "opt1.check-results.data-present")
    assert data.state == "failed" and data.note == "counts_match_baseline: images_live 2 != 3"
    kept = service.step_state(inc, "opt1.check-results.tables-intact")
    assert (kept.state, kept.actor) == ("done", "U7")
    # a later passing verify ticks the failed one; Undo still works on what the agent ticked
    assert service.begin_job(inc, "opt1.verify", "verify", {}, "U1", "r2") is not None
    checks[3] = {"name": "counts_match_baseline", "passed": True, "detail": "match"}
    service.finish_job("r2", "ok", {"summary": "verify passed", "checks": checks})
    assert service.step_state(inc, "opt1.check-results.data-present").job_id == "r2"
    assert service.transition(inc, "opt1.check-results.media-gone", "undo", "U1").changed
    kinds = [e.kind for e in service.events(inc)]
    assert kinds.count("step.checked") == 3
    runner.close()


def test_recover_journal_runs_once_under_the_status_step_and_leaves_it_to_retry(tmp_path: Path) -> None:
    client = FakeClient({})
    service, runner, rec, inc = make(tmp_path, client)
    runner.start(inc, "immediate.assess", "U1")  # status: done
    wait_finished(rec)
    assert service.step_state(inc, "immediate.assess").state == "done"
    client.gate.clear()
    first = runner.start(inc, "immediate.assess", "U2", operation="recover_journal")
    second = runner.start(inc, "immediate.assess", "U2", operation="recover_journal")  # double click
    assert first.job is not None and first.job.operation == "recover_journal" and first.job.args == {}
    assert second.job is None and second.refusal == StartRefusal.already_running
    client.gate.set()
    wait_finished(rec)
    assert [c[0] for c in client.calls] == ["status", "recover_journal"]
    state = service.step_state(inc, "immediate.assess")
    assert state.state == "failed" and "retry" in (state.note or "")  # Retry runs the step's own status
    assert runner.start(inc, "immediate.assess", "U2").job is not None
    wait_finished(rec)
    runner.close()
