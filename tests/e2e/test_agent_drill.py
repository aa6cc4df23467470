"""Drills on a real agent: every operation runs on a scratch copy; the live DB stays byte-identical and
the live app keeps running, whatever the drill does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.client import AgentClient, AgentProtocolError
from ops.control import make_controller
from sandbox.sandbox_host import SandboxHost

SECRET = "drill-secret-0123456789abcdef"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[SandboxHost]:
    with SandboxHost(tmp_path, secret=SECRET) as running:
        yield running


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_drill_never_touches_the_live_deployment(host: SandboxHost) -> None:
    live_db = host.root / "db_data" / "main.db"
    before, live_pid = digest(live_db), make_controller(host.controller_config, host.api_url).state().pid
    with AgentClient(host.url, SECRET, "drill-test") as agent:

        def run(op: str, args: dict[str, object] | None = None, n: list[int] = [0]) -> dict[str, object]:  # noqa: B006
            n[0] += 1
            view = agent.run(op, args, f"drill-{n[0]}", drill="RB-7", deadline_s=60)
            assert view.outcome in ("ok", "noop"), (op, view.error, view.result)
            return view.result or {}

        assert "DRILL" in str(run("stop_app")["summary"])
        assert run("rollback")["outcome"] == "ok"
        assert run("verify")["outcome"] == "ok"
        listing = run("backups_list")
        star = next(b for b in listing["backups"] if b.get("pre_migration"))  # type: ignore[union-attr]
        run("restore", {"backup": star["name"], "expected_sha256": star["sha256"]})
        run("start_app")
        assert "not calling the live app" in str(run("check_api")["summary"])

    assert digest(live_db) == before
    assert make_controller(host.controller_config, host.api_url).state().pid == live_pid
    assert httpx.get(host.api_url + "/api/cdn/image/all", timeout=5).status_code == 200  # the live app still serves
    scratch = host.root / ".rollback-agent" / "drills" / "RB-7" / "go-fast-cdn" / "db_data" / "main.db"
    assert digest(scratch) != before
    audit = [json.loads(line) for line in (host.root / ".rollback-agent" / "audit.jsonl").read_text().splitlines()]
    assert all(e.get("drill") == "RB-7" for e in audit if e.get("event") == "accepted")


def test_drill_ids_are_checked_and_a_request_id_stays_bound_to_its_drill(host: SandboxHost) -> None:
    with AgentClient(host.url, SECRET, "drill-test") as agent:
        with pytest.raises(AgentProtocolError, match="drill must match"):
            agent.submit("status", {}, "bad-drill", drill="../etc")
        agent.run("status", {}, "same-id", drill="RB-1", deadline_s=30)
        with pytest.raises(AgentProtocolError) as err:
            agent.submit("status", {}, "same-id")
        assert err.value.status == 409
    assert sorted(p.name for p in (host.root / ".rollback-agent" / "drills").iterdir()) == ["RB-1"]
