"""A sandbox go-fast-cdn host: a migrated deployment, the stand-in app, and a real rollback-agent.

The stand-in go-fast-cdn runs under the agent's *process* controller (pidfile + log file), so
stopping and starting it from Slack exercises the same code path as production. Used by
``make demo`` and the end-to-end tests; binds 127.0.0.1 only.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ops.control import make_controller
from ops.control.config import ProcessConfig
from sandbox.gofastcdn_fixture import FixtureInfo, build_migrated_deployment

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SandboxHost:
    def __init__(
        self,
        workdir: Path,
        *,
        secret: str,
        schema: str = "a7396e9",
        environment: str = "production",
        binary: str = "pre-migration",
    ):
        """``binary``: which go-fast-cdn build the stand-in imitates after the restart (see
        sandbox.gofastcdn_standin); a team that forgot to roll the binary back runs "migration-era"."""
        self.workdir = Path(workdir)
        self.secret = secret
        self.environment = environment
        self.info: FixtureInfo = build_migrated_deployment(self.workdir / "go-fast-cdn", schema=schema)  # type: ignore[arg-type]
        self.root = self.info.root
        self.app_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.app_port}"
        self.pidfile = self.root / "go-fast-cdn.pid"
        self.app_log = self.root / "go-fast-cdn.log"
        self.agent_log = self.workdir / "agent.log"
        self.app_command = [
            sys.executable,
            "-m",
            "sandbox.gofastcdn_standin",
            "--root",
            str(self.root),
            "--port",
            str(self.app_port),
            "--binary",
            binary,
        ]
        self.url = ""
        self._agent: subprocess.Popen[str] | None = None

    @property
    def controller_config(self) -> ProcessConfig:
        return ProcessConfig(
            kind="process", command=self.app_command, pidfile=self.pidfile, cwd=REPO, log_file=self.app_log
        )

    def start_app(self, timeout_s: float = 15.0) -> None:
        """Start go-fast-cdn (the stand-in) the way the agent would, before the incident."""
        state = make_controller(self.controller_config, self.api_url).start(timeout_s)
        if not state.running:
            raise RuntimeError(f"sandbox go-fast-cdn did not start: {state.detail}")

    def start_agent(self, timeout_s: float = 20.0) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBACK_AGENT_")}
        env.update({"ROLLBACK_AGENT_SECRET": self.secret, "PYTHONPATH": str(REPO)})
        cmd = [
            sys.executable, "-m", "ops.cli", "serve", "--deployment", str(self.root), "--port", "0",
            "--api-url", self.api_url, "--controller", "process", "--pidfile", str(self.pidfile),
            "--app-command", shlex.join(self.app_command), "--app-cwd", str(REPO), "--app-log", str(self.app_log),
        ]  # fmt: skip
        with self.agent_log.open("ab") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=REPO)
        self._agent = proc
        self.url = wait_for_agent_url(proc, timeout_s, self.agent_log)
        return self.url

    def start(self) -> SandboxHost:
        self.start_app()
        self.start_agent()
        return self

    def stop(self) -> None:
        if self._agent is not None and self._agent.poll() is None:
            self._agent.terminate()
            try:
                self._agent.wait(15)
            except subprocess.TimeoutExpired:
                self._agent.kill()
                self._agent.wait(5)
        make_controller(self.controller_config, self.api_url).stop(10)

    def __enter__(self) -> SandboxHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_agent_url(proc: subprocess.Popen[str], timeout_s: float, log: Path) -> str:
    """The URL a starting ``rollback-agent serve`` prints; its stdout stays drained for its whole life."""
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout

    def pump() -> None:  # keeps the pipe drained for the agent's whole life
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            continue
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return m.group(1)
    proc.kill()
    raise RuntimeError(f"rollback-agent did not start; its log says: {log.read_text()[-1500:]}")
