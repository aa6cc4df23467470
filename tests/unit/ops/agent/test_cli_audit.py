"""The CLI audits what it refuses too: bad arguments and a busy lock, each on its own line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.agent import locks
from ops.agent.audit import AuditLog
from ops.cli import main
from sandbox.gofastcdn_fixture import build_migrated_deployment


def flags(root: Path) -> list[str]:
    return [
        "--deployment",
        str(root),
        "--controller",
        "process",
        "--pidfile",
        str(root / "app.pid"),
        "--app-command",
        "sleep 600",
    ]


def events(root: Path) -> list[dict[str, object]]:
    return AuditLog(root / ".rollback-agent" / "audit.jsonl").read()


def test_invalid_args_and_busy_are_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = build_migrated_deployment(tmp_path / "dep")
    assert main(["restore", "../main.db", "--yes", *flags(info.root)]) == 2
    (line,) = events(info.root)
    assert line["event"] == "local_rejected" and line["reason"] == "invalid_args" and line["outcome"] == "invalid"
    with locks.exclusive(info.root / ".rollback-agent", "restore", "job-x"):
        assert main(["rollback", "--yes", *flags(info.root)]) == 3
    assert "busy" in capsys.readouterr().out
    assert [e["event"] for e in events(info.root)] == ["local_rejected", "local_busy"]
    assert main(["rollback", "--yes", *flags(info.root)]) == 0
    assert [e["event"] for e in events(info.root)] == ["local_rejected", "local_busy", "local_run"]
