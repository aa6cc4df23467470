"""The process controller must not hand the agent's secrets to go-fast-cdn (a real child checks)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from ops.control.config import ProcessConfig
from ops.control.process import ProcessController, child_env, is_secret_env
from tests.unit.ops.app_helpers import Reaper

# Prints its environment as one JSON line, then waits to be stopped (so start() reports it running).
DUMP_ENV = "import os, json, sys, time; print(json.dumps(dict(os.environ)), flush=True); time.sleep(60)"


def _child_environ(log: Path, timeout_s: float = 5.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in (log.read_text() if log.exists() else "").splitlines():
            if line.startswith("{"):
                data = json.loads(line)
                assert isinstance(data, dict)
                return {str(k): str(v) for k, v in data.items()}
        time.sleep(0.02)
    raise AssertionError(f"the child wrote no environment to {log}")


def test_child_does_not_inherit_agent_or_slack_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reaper: Reaper
) -> None:
    monkeypatch.setenv("ROLLBACK_AGENT_SECRET", "agent-hmac-secret")
    monkeypatch.setenv("ROLLBACK_AGENT_CONTROLLER", '{"kind": "none"}')
    monkeypatch.setenv("rollback_agent_secret_lower", "lowercase-too")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-should-not-leak")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    monkeypatch.setenv("ROLLBACK_AGENTS", '{"production": {"url": "http://x", "secret": "s"}}')
    monkeypatch.setenv("GOFASTCDN_KEEP_ME", "inherited")
    log = tmp_path / "logs" / "app.log"
    cfg = ProcessConfig(
        command=[sys.executable, "-c", DUMP_ENV],
        pidfile=tmp_path / "run" / "app.pid",
        log_file=log,
        env={"GOFASTCDN_PORT": "9090", "SLACK_WEBHOOK_FOR_APP": "explicitly-configured"},
    )
    ctl = ProcessController(cfg)
    st = ctl.start(timeout_s=5)
    assert st.running is True, st.detail

    env = _child_environ(log)

    leaked = sorted(k for k in env if k.upper().startswith(("ROLLBACK_AGENT_", "SLACK_")) or k == "ROLLBACK_AGENTS")
    assert leaked == ["SLACK_WEBHOOK_FOR_APP"]  # only the one the config sets on purpose
    assert "agent-hmac-secret" not in log.read_text()
    assert "xoxb-should-not-leak" not in log.read_text()
    assert env.get("PATH")  # ordinary variables are still inherited
    assert env["GOFASTCDN_KEEP_ME"] == "inherited"
    assert env["GOFASTCDN_PORT"] == "9090"  # the configured env is applied
    assert env["SLACK_WEBHOOK_FOR_APP"] == "explicitly-configured"  # ...after stripping

    assert ctl.stop(timeout_s=5).running is False


def test_child_env_filter_rules() -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "ROLLBACK_AGENT_SECRET": "x",
        "Slack_App_Token": "x",
        "ROLLBACK_AGENTS": "x",
        "ROLLBACK_STORE_PATH": "bot.db",  # not a secret: kept
    }
    env = child_env({"ROLLBACK_AGENT_MODE": "set-by-config", "PATH": "/opt/bin"}, base=base)
    assert env == {
        "PATH": "/opt/bin",
        "HOME": "/root",
        "ROLLBACK_STORE_PATH": "bot.db",
        "ROLLBACK_AGENT_MODE": "set-by-config",
    }
    assert is_secret_env("slack_signing_secret") and not is_secret_env("MY_SLACK_THING")
