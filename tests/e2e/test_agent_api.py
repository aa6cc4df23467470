"""The agent as a real process over a fixture deployment, driven by AgentClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.agent.auth import signed_headers
from ops.client import AgentAuthError, AgentClient
from sandbox.gofastcdn_fixture import FixtureInfo, build_migrated_deployment
from tests.e2e.test_agent_harness import SECRET, Agent, start_agent


@pytest.fixture
def deployment(tmp_path: Path) -> FixtureInfo:
    return build_migrated_deployment(tmp_path / "dep")


@pytest.fixture
def agent(deployment: FixtureInfo, tmp_path: Path) -> Iterator[Agent]:
    a = start_agent(deployment.root, tmp_path / "agent.log")
    try:
        yield a
    finally:
        a.stop()


def audit(agent: Agent) -> list[dict[str, object]]:
    path = agent.state_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def client(agent: Agent, secret: str = SECRET) -> AgentClient:
    return AgentClient(agent.url, secret, "e2e-bot", timeout_s=5, retries=1)


def test_status(agent: Agent) -> None:
    view = client(agent).run("status", {}, "e2e-status-1", poll_s=0.05, deadline_s=20)
    assert view.state == "finished" and view.outcome == "ok", view
    assert view.result is not None and view.result["schema_era"] == "a7396e9-media"
    assert view.result["app_running"] is False and view.caller == "e2e-bot"


def test_bad_signature_is_401_and_nothing_runs(agent: Agent) -> None:
    with pytest.raises(AgentAuthError, match="bad signature"):
        client(agent, "not-the-secret-at-all-0000").submit("backups_create", {}, "e2e-bad")
    events = audit(agent)
    assert [e["reason"] for e in events if e["event"] == "rejected"] == ["bad signature"]
    assert not [e for e in events if e["event"] in ("accepted", "started")]


def test_replayed_request_is_401_and_runs_once(agent: Agent) -> None:
    body = json.dumps({"request_id": "e2e-replay", "operation": "status", "args": {}}).encode()
    headers = signed_headers(SECRET, "eavesdropper", "POST", "/v1/jobs", body)
    first = httpx.post(agent.url + "/v1/jobs", content=body, headers=headers, timeout=5)
    replay = httpx.post(agent.url + "/v1/jobs", content=body, headers=headers, timeout=5)
    assert first.status_code == 202
    assert replay.status_code == 401 and "replay" in replay.json()["error"]
    events = audit(agent)
    assert sum(e["event"] == "accepted" for e in events) == 1
    assert any(e["event"] == "rejected" and "replay" in str(e["reason"]) for e in events)


def test_same_request_id_twice_runs_once(agent: Agent, deployment: FixtureInfo) -> None:
    c = client(agent)
    first = c.run("backups_create", {"label": "e2e"}, "e2e-once", poll_s=0.05, deadline_s=20)
    second = c.run("backups_create", {"label": "e2e"}, "e2e-once", poll_s=0.05, deadline_s=20)
    assert first.outcome == "ok" and second.job_id == first.job_id and second.result == first.result
    started = [e for e in audit(agent) if e["event"] == "started"]
    assert len(started) == 1
    assert len(list(deployment.deployment.backups_dir.glob("*_e2e.db"))) == 1


def test_rollback_progress_then_verify(agent: Agent) -> None:
    c = client(agent)
    lines: list[str] = []
    view = c.run("rollback", {}, "e2e-rollback", on_progress=lines.append, poll_s=0.02, deadline_s=30)
    assert view.outcome == "ok", view
    assert len(lines) >= 2 and lines == [p.message for p in view.progress]
    verify = c.run("verify", {}, "e2e-verify", poll_s=0.05, deadline_s=20)
    assert verify.outcome == "ok", verify.result


def test_invalid_args_and_unknown_operation(agent: Agent) -> None:
    c = client(agent)
    bad = c.submit("restore", {"backup": "../../etc/passwd"}, "e2e-bad-args")
    assert bad.outcome == "invalid" and bad.error is not None and "backup" in bad.error.message
    unknown = c.submit("rm_rf", {}, "e2e-unknown")
    assert unknown.outcome == "invalid" and unknown.error is not None
    assert unknown.error.code == "unknown_operation"
    assert not [e for e in audit(agent) if e["event"] == "started"]


def test_request_id_survives_restart(deployment: FixtureInfo, tmp_path: Path) -> None:
    first_agent = start_agent(deployment.root, tmp_path / "a1.log")
    try:
        first = client(first_agent).run("backups_create", {}, "e2e-restart", poll_s=0.05, deadline_s=20)
    finally:
        first_agent.stop()
    second_agent = start_agent(deployment.root, tmp_path / "a2.log")
    try:
        again = client(second_agent).submit("backups_create", {}, "e2e-restart")
    finally:
        second_agent.stop()
    assert again.job_id == first.job_id and again.outcome == "ok"
    assert sum(e["event"] == "started" for e in audit(second_agent)) == 1
