"""Start ``rollback-agent serve`` as a real process on 127.0.0.1:0 and always stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.sandbox_host import wait_for_agent_url

SECRET = "e2e-secret-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


def closed_port_url() -> str:
    """A URL where nothing listens (go-fast-cdn is not running in these tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def agent_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBACK_AGENT_")}
    env.update({"ROLLBACK_AGENT_SECRET": SECRET, "PYTHONPATH": str(REPO), **extra})
    return env


def process_controller_flags(root: Path) -> list[str]:
    """A process controller whose pidfile is absent: the app is provably stopped."""
    return ["--controller", "process", "--pidfile", str(root / "app.pid"), "--app-command", "sleep 600"]


@dataclass
class Agent:
    proc: subprocess.Popen[str]
    url: str
    state_dir: Path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_agent(root: Path, log: Path, *extra: str, timeout_s: float = 15) -> Agent:
    cmd = [
        sys.executable,
        "-m",
        "ops.cli",
        "serve",
        "--deployment",
        str(root),
        "--port",
        "0",
        "--api-url",
        closed_port_url(),
        *process_controller_flags(root),
        *extra,
    ]
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=agent_env(), cwd=REPO)
    try:
        url = wait_for_agent_url(proc, timeout_s, log)
    except RuntimeError as exc:
        proc.wait(5)
        raise AssertionError(str(exc)) from None
    return Agent(proc, url, root / ".rollback-agent")


def test_agent_starts_prints_its_url_and_stops(tmp_path: Path) -> None:
    import httpx

    from sandbox.gofastcdn_fixture import build_migrated_deployment

    info = build_migrated_deployment(tmp_path / "dep")
    agent = start_agent(info.root, tmp_path / "agent.log")
    try:
        assert httpx.get(agent.url + "/healthz", timeout=5).json() == {"ok": True}
    finally:
        code = agent.stop()
    assert code == 0  # SIGTERM is a clean shutdown


def test_serve_without_secret_exits_2(tmp_path: Path) -> None:
    from sandbox.gofastcdn_fixture import build_migrated_deployment

    info = build_migrated_deployment(tmp_path / "dep")
    env = agent_env()
    del env["ROLLBACK_AGENT_SECRET"]
    proc = subprocess.run(
        [sys.executable, "-m", "ops.cli", "serve", "--deployment", str(info.root), "--port", "0"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "rollback-agent: ROLLBACK_AGENT_SECRET is not set: export a shared secret (e.g. `openssl rand -hex 32`)"
    ]


def test_second_agent_on_same_state_dir_refused(tmp_path: Path) -> None:
    from sandbox.gofastcdn_fixture import build_migrated_deployment

    info = build_migrated_deployment(tmp_path / "dep")
    agent = start_agent(info.root, tmp_path / "agent.log")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ops.cli", "serve", "--deployment", str(info.root), "--port", "0"],
            env=agent_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        agent.stop()
    assert proc.returncode == 2 and "another rollback-agent is already serving" in proc.stderr
