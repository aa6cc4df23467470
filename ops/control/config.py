"""How the agent is told which controller runs go-fast-cdn, plus the plumbing controllers share.

The config is a discriminated union on ``kind`` so an agent config file (YAML/JSON) picks one
controller with its own fields, and a typo is a validation error at startup, not at 3 a.m.
Commands go through an injectable ``Runner`` so tests can check exact argv without systemd/docker.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ops.control.base import AppState


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemdConfig(_Base):
    kind: Literal["systemd"] = "systemd"
    unit: str = Field(min_length=1)
    use_sudo: bool = False


class ComposeConfig(_Base):
    kind: Literal["compose"] = "compose"
    project_dir: Path
    service: str = Field(min_length=1)
    compose_file: Path | None = None


class ProcessConfig(_Base):
    kind: Literal["process"] = "process"
    command: list[str] = Field(min_length=1)
    pidfile: Path
    cwd: Path | None = None
    log_file: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)


class NoControllerConfig(_Base):
    """No way to stop/start the app: state comes from probing the API only."""

    kind: Literal["none"] = "none"


ControllerConfig = Annotated[
    SystemdConfig | ComposeConfig | ProcessConfig | NoControllerConfig, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[SystemdConfig | ComposeConfig | ProcessConfig | NoControllerConfig] = TypeAdapter(
    ControllerConfig
)


def parse_controller_config(
    data: Any,
) -> SystemdConfig | ComposeConfig | ProcessConfig | NoControllerConfig:
    """Validate a dict (from a config file) into the matching controller config."""
    return _ADAPTER.validate_python(data)


class ControllerError(RuntimeError):
    """The controller could not do what was asked (e.g. no log source); becomes a failed result."""


Runner = Callable[[Sequence[str], float], tuple[int, str, str]]
"""Runs argv with a timeout in seconds; returns (returncode, stdout, stderr). Never raises."""


def run_command(argv: Sequence[str], timeout_s: float) -> tuple[int, str, str]:
    """Default runner: a missing binary or a timeout becomes a return code, not an exception."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=max(timeout_s, 1.0),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{' '.join(argv)}: timed out after {timeout_s:.0f}s"
    except OSError as exc:
        return 126, "", f"{argv[0]}: {exc}"
    return proc.returncode, proc.stdout, proc.stderr


def poll_state(state: Callable[[], AppState], want: bool, timeout_s: float, interval_s: float = 0.1) -> AppState:
    """Re-read the state until ``running == want`` or the timeout; returns the last state seen."""
    deadline = time.monotonic() + max(timeout_s, 0.0)
    while True:
        st = state()
        if st.running is want or time.monotonic() >= deadline:
            return st
        time.sleep(interval_s)


def short(text: str, limit: int = 300) -> str:
    """One line of command output for a detail string."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
