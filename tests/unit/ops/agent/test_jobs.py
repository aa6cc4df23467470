from __future__ import annotations

from pathlib import Path

import pytest

from ops.agent.audit import AuditLog
from ops.agent.jobs import INTERRUPTED, JobExecutor, JobStore, JobView, RequestIdConflict
from ops.host import Host
from tests.unit.ops.agent.conftest import Gate, make_registry, make_runner


def submit(runner: JobExecutor, rid: str, op: str, args: dict[str, object] | None = None) -> tuple[JobView, bool]:
    return runner.submit(request_id=rid, operation=op, args=args or {}, caller="tester", remote="127.0.0.1")


def events(host: Host) -> list[dict[str, object]]:
    return AuditLog(host.deployment.state_dir / "audit.jsonl").read()


def test_ok_job_result_is_model_dump(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, created = submit(runner, "r1", "echo", {"text": "yo"})
    assert created and view.state in ("queued", "running", "finished")
    done = runner.wait(view.job_id, 5)
    assert done is not None and done.state == "finished" and done.outcome == "ok"
    assert done.result is not None and done.result["summary"] == "echo yo"
    assert done.result["operation"] == "echo" and isinstance(done.result["started_at"], str)
    assert done.error is None and done.finished_at is not None and done.caller == "tester"


def test_same_request_id_runs_once(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    first, created1 = submit(runner, "r1", "echo")
    runner.wait(first.job_id, 5)
    second, created2 = submit(runner, "r1", "echo")
    assert created1 and not created2 and second.job_id == first.job_id and gate.calls == 1
    kinds = [e["event"] for e in events(fake_host)]
    assert kinds.count("started") == 1 and kinds.count("duplicate") == 1


def test_same_request_id_different_request_conflicts(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    submit(runner, "r1", "echo", {"text": "a"})
    with pytest.raises(RequestIdConflict, match="already used"):
        submit(runner, "r1", "echo", {"text": "b"})


def test_idempotent_across_restart(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, _ = submit(runner, "r1", "echo")
    runner.wait(view.job_id, 5)
    runner.store.close()
    again = make_runner(fake_host, gate)
    view2, created = submit(again, "r1", "echo")
    assert not created and view2.job_id == view.job_id and view2.outcome == "ok" and gate.calls == 1


def test_interrupted_job_closed_on_startup_and_not_rerun(fake_host: Host, gate: Gate) -> None:
    state = fake_host.deployment.state_dir
    store = JobStore(state / "agent.db")
    view, _ = store.insert(request_id="r-crash", operation="slow", args={}, caller="bot", remote=None)
    store.mark_running(view.job_id)  # the agent "crashes" here
    store.close()
    audit = AuditLog(state / "audit.jsonl")
    runner = JobExecutor(JobStore(state / "agent.db"), make_registry(gate), fake_host, audit, state)
    closed = runner.get(view.job_id)
    assert closed is not None and closed.state == "finished" and closed.outcome == "error"
    assert closed.error is not None and INTERRUPTED in closed.error.message
    again, created = submit(runner, "r-crash", "slow")
    assert not created and again.outcome == "error" and gate.calls == 0
    assert any(e["event"] == "interrupted" and e["job_id"] == view.job_id for e in events(fake_host))


@pytest.mark.parametrize(
    ("op", "outcome", "kind", "code"),
    [
        ("refuse", "refused", "refused", "app_running"),
        ("bad_input", "invalid", "invalid", "no_such_backup"),
        ("crash", "error", "error", "ZeroDivisionError"),
        ("wrong_type", "error", "error", "TypeError"),
        ("nonexistent", "invalid", "invalid", "unknown_operation"),
    ],
)
def test_outcome_mapping(fake_host: Host, gate: Gate, op: str, outcome: str, kind: str, code: str) -> None:
    runner = make_runner(fake_host, gate)
    view, _ = submit(runner, "r1", op)
    done = runner.wait(view.job_id, 5)
    assert done is not None and done.outcome == outcome and done.result is None
    assert done.error is not None and (done.error.kind, done.error.code) == (kind, code)


def test_failed_and_noop_results_pass_through(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    for i, outcome in enumerate(["failed", "noop"]):
        view, _ = submit(runner, f"r{i}", "echo", {"outcome": outcome})
        done = runner.wait(view.job_id, 5)
        assert done is not None and done.outcome == outcome and done.error is None


def test_finished_audit_line_carries_the_full_result(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, _ = submit(runner, "r1", "echo", {"text": "full", "outcome": "failed"})
    done = runner.wait(view.job_id, 5)
    assert done is not None and done.result is not None
    (finished,) = [e for e in events(fake_host) if e["event"] == "finished"]
    assert finished["result"] == done.result  # the whole model_dump, not only the summary
    assert finished["summary"] == "echo full" and finished["error"] is None and finished["outcome"] == "failed"


def test_finished_audit_line_carries_the_error(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    for rid, op in (("r1", "refuse"), ("r2", "nonexistent")):
        view, _ = submit(runner, rid, op)
        runner.wait(view.job_id, 5)
    finished = {e["request_id"]: e for e in events(fake_host) if e["event"] == "finished"}
    assert finished["r1"]["result"] is None and finished["r1"]["error"] == {
        "kind": "refused",
        "code": "app_running",
        "message": "go-fast-cdn is running: stop it first",
    }
    assert "r2" not in finished  # an invalid request never runs: one `rejected` line, no accepted/finished
    (rejected,) = [e for e in events(fake_host) if e["request_id"] == "r2"]
    assert rejected["event"] == "rejected" and rejected["reason"] == "unknown_operation"
    assert rejected["outcome"] == "invalid" and rejected["error"]["code"] == "unknown_operation"  # type: ignore[index]


def test_crash_traceback_in_audit(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, _ = submit(runner, "r1", "crash")
    runner.wait(view.job_id, 5)
    finished = [e for e in events(fake_host) if e["event"] == "finished"]
    assert "ZeroDivisionError: boom" in str(finished[0]["traceback"])


def test_bad_args_finish_invalid_without_running(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, created = submit(runner, "r1", "echo", {"text": 5, "extra": 1})
    assert created and view.state == "finished" and view.outcome == "invalid"
    assert view.error is not None and "extra: Extra inputs are not permitted" in view.error.message
    assert gate.calls == 0


def test_progress_visible_while_running(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    view, _ = submit(runner, "r1", "slow")
    assert gate.entered.wait(5)
    running = runner.get(view.job_id)
    assert running is not None and running.state == "running"
    assert [p.message for p in running.progress] == ["step 1"]
    gate.release.set()
    done = runner.wait(view.job_id, 5)
    assert done is not None and [p.message for p in done.progress] == ["step 1", "step 2"]


def test_exclusive_ops_do_not_overlap_but_reads_do(fake_host: Host, gate: Gate) -> None:
    runner = make_runner(fake_host, gate)
    slow, _ = submit(runner, "r1", "slow")
    assert gate.entered.wait(5)
    other, _ = submit(runner, "r2", "other_destructive")
    busy = runner.wait(other.job_id, 5)
    assert busy is not None and busy.outcome == "refused" and busy.error is not None
    assert busy.error.code == "busy" and "slow" in busy.error.message
    read, _ = submit(runner, "r3", "echo")
    read_done = runner.wait(read.job_id, 5)
    assert read_done is not None and read_done.outcome == "ok"
    gate.release.set()
    assert (runner.wait(slow.job_id, 5) or slow).outcome == "ok"
    after, _ = submit(runner, "r4", "other_destructive")
    after_done = runner.wait(after.job_id, 5)
    assert after_done is not None and after_done.outcome == "ok"
    # one execution = one `started` line; the busy refusal is its own line and never `started`
    by_rid: dict[object, list[object]] = {}
    for e in events(fake_host):
        by_rid.setdefault(e.get("request_id"), []).append(e["event"])
    assert by_rid["r1"] == ["accepted", "started", "finished"]
    assert by_rid["r2"] == ["accepted", "busy"]
    assert by_rid["r4"] == ["accepted", "started", "finished"]
    (busy_line,) = [e for e in events(fake_host) if e["event"] == "busy"]
    assert busy_line["outcome"] == "refused" and busy_line["error"]["code"] == "busy"  # type: ignore[index]


def test_store_survives_reopen(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "a.db")
    view, _ = store.insert(request_id="x", operation="status", args={"a": 1}, caller="c", remote=None)
    store.add_progress(view.job_id, 1, "hello")
    store.finish(view.job_id, "ok", {"summary": "s"}, None)
    store.close()
    again = JobStore(tmp_path / "a.db").get(view.job_id)
    assert again is not None and again.result == {"summary": "s"} and again.progress[0].message == "hello"
