"""go-fast-cdn as a docker compose service (the upstream image keeps the DB at /app/db_data/main.db)."""

from __future__ import annotations

import json
import time
from typing import Any

from ops.control.base import AppState
from ops.control.config import ComposeConfig, ControllerError, Runner, poll_state, run_command, short

# Container states where the process may still hold the DB open (paused keeps it open, frozen).
_RUNNING = {"running", "restarting", "paused", "removing"}
_STOPPED = {"exited", "dead", "created"}
_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def parse_ps(out: str) -> list[dict[str, Any]]:
    """``docker compose ps --format json``: a JSON array (Compose < 2.21) or one object per line."""
    text = out.strip()
    if not text:
        return []
    if text.startswith("["):
        data = json.loads(text)
        return [r for r in data if isinstance(r, dict)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class ComposeController:
    kind: str = "compose"

    def __init__(self, cfg: ComposeConfig, runner: Runner = run_command) -> None:
        self.cfg = cfg
        self.runner = runner
        self.log_source = f"docker compose logs {cfg.service}"

    def _base(self) -> list[str]:
        """Absolute paths so the commands don't depend on the agent's working directory."""
        argv = ["docker", "compose", "--project-directory", str(self.cfg.project_dir)]
        file = self.cfg.compose_file
        if file is None:
            file = next(
                (self.cfg.project_dir / n for n in _DEFAULT_FILES if (self.cfg.project_dir / n).is_file()),
                None,
            )
        elif not file.is_absolute():
            file = self.cfg.project_dir / file
        return [*argv, "-f", str(file)] if file is not None else argv

    def state(self) -> AppState:
        svc = self.cfg.service
        rc, out, err = self.runner([*self._base(), "ps", "--all", "--format", "json", svc], 20.0)
        if rc != 0:
            return AppState(running=None, detail=f"docker compose ps rc={rc}: {short(err or out)}")
        try:
            rows = parse_ps(out)
        except (json.JSONDecodeError, TypeError) as exc:
            return AppState(running=None, detail=f"cannot parse docker compose ps output: {exc}")
        rows = [r for r in rows if r.get("Service", svc) == svc]
        if not rows:
            return AppState(running=False, detail=f"no container for service {svc}")
        states = [str(r.get("State", "")).lower() for r in rows]
        names = ", ".join(f"{r.get('Name', '?')}={s}" for r, s in zip(rows, states, strict=True))
        if any(s in _RUNNING for s in states):
            return AppState(running=True, detail=f"service {svc}: {names}")
        if all(s in _STOPPED for s in states):
            return AppState(running=False, detail=f"service {svc}: {names}")
        return AppState(running=None, detail=f"service {svc} in unknown state: {names}")

    def _act(self, argv: list[str], verb: str, want: bool, timeout_s: float) -> AppState:
        t0 = time.monotonic()
        rc, out, err = self.runner(argv, timeout_s + 10)
        left = timeout_s - (time.monotonic() - t0)
        st = poll_state(self.state, want, left if rc == 0 else min(left, 1.0))
        if st.running is want:
            return st
        why = f"docker compose {verb} rc={rc}" + (f" {short(err or out)!r}" if rc != 0 else "")
        hint = " (a removed container needs `docker compose up -d`)" if verb == "start" else ""
        return AppState(
            running=st.running,
            detail=f"{verb} did not take effect within {timeout_s:g}s ({why}){hint}; now: {st.detail}",
        )

    def stop(self, timeout_s: float) -> AppState:
        grace = str(max(int(timeout_s) - 2, 1))  # leave time to confirm after docker's own SIGKILL
        argv = [*self._base(), "stop", "--timeout", grace, self.cfg.service]
        return self._act(argv, "stop", False, timeout_s)

    def start(self, timeout_s: float) -> AppState:
        return self._act([*self._base(), "start", self.cfg.service], "start", True, timeout_s)

    def logs(self, lines: int) -> list[str]:
        argv = [*self._base(), "logs", "--no-color", "--tail", str(lines), self.cfg.service]
        rc, out, err = self.runner(argv, 30.0)
        if rc != 0:
            raise ControllerError(f"docker compose logs rc={rc}: {short(err or out)}")
        # container output (stdout and stderr) arrives on stdout; compose's own warnings go to stderr.
        return out.splitlines()[-lines:]
