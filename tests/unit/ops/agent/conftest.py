"""Fake operations and a fake host so the agent's generic parts are tested without real ops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from ops.agent.audit import AuditLog
from ops.agent.jobs import JobExecutor, JobStore
from ops.control.base import AppState
from ops.deployment import Deployment
from ops.errors import OpInputError, OpRefused
from ops.host import Host
from ops.models import OpResult
from ops.registry import Args, NoArgs, OpSpec, Progress, Registry

SECRET = "test-secret-0123456789abcdef"


class StubController:
    kind = "stub"

    def state(self) -> AppState:
        return AppState(running=False, detail="stub: stopped")

    def stop(self, timeout_s: float) -> AppState:
        return self.state()

    def start(self, timeout_s: float) -> AppState:
        return self.state()

    def logs(self, lines: int) -> list[str]:
        return []


class EchoArgs(Args):
    text: str = "hi"
    outcome: Literal["ok", "failed", "noop"] = "ok"


class Gate:
    """Lets a test hold an operation open, and counts executions."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0


def make_registry(gate: Gate) -> Registry:
    def echo(host: Host, args: EchoArgs, progress: Progress) -> OpResult:
        gate.calls += 1
        return OpResult(operation="echo", outcome=args.outcome, summary=f"echo {args.text}")

    def slow(host: Host, args: NoArgs, progress: Progress) -> OpResult:
        gate.calls += 1
        progress("step 1")
        gate.entered.set()
        assert gate.release.wait(10), "test never released the gate"
        progress("step 2")
        return OpResult(operation="slow", outcome="ok", summary="slow done")

    def refuse(host: Host, args: NoArgs, progress: Progress) -> OpResult:
        raise OpRefused("app_running", "go-fast-cdn is running: stop it first")

    def bad_input(host: Host, args: NoArgs, progress: Progress) -> OpResult:
        raise OpInputError("no_such_backup", "no backup named x")

    def crash(host: Host, args: NoArgs, progress: Progress) -> OpResult:
        raise ZeroDivisionError("boom")

    def wrong_type(host: Host, args: NoArgs, progress: Progress) -> OpResult:
        return "not a result"  # type: ignore[return-value]

    return Registry(
        [
            OpSpec("echo", EchoArgs, echo, False, False, "echo"),
            OpSpec("slow", NoArgs, slow, True, True, "slow destructive"),
            OpSpec("slow_read", NoArgs, slow, False, True, "slow read-only"),
            OpSpec("other_destructive", EchoArgs, echo, True, False, "another destructive"),
            OpSpec("refuse", NoArgs, refuse, True, False, "refuses"),
            OpSpec("bad_input", NoArgs, bad_input, False, False, "bad input"),
            OpSpec("crash", NoArgs, crash, False, False, "crashes"),
            OpSpec("wrong_type", NoArgs, wrong_type, False, False, "returns junk"),
        ]
    )


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.release.set()


@pytest.fixture
def fake_host(tmp_path: Path) -> Host:
    root = tmp_path / "deploy"
    (root / "db_data").mkdir(parents=True)
    (root / "db_data" / "main.db").write_bytes(b"")
    return Host(deployment=Deployment.locate(root), controller=StubController())


def make_runner(host: Host, gate: Gate) -> JobExecutor:
    state = host.deployment.state_dir
    return JobExecutor(JobStore(state / "agent.db"), make_registry(gate), host, AuditLog(state / "audit.jsonl"), state)
