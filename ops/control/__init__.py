"""Pick the controller for how go-fast-cdn runs on this host (systemd, compose, a process, or none)."""

from __future__ import annotations

from typing import Any

from ops.control.base import AppController, AppState
from ops.control.compose import ComposeController
from ops.control.config import (
    ComposeConfig,
    ControllerConfig,
    ControllerError,
    NoControllerConfig,
    ProcessConfig,
    Runner,
    SystemdConfig,
    parse_controller_config,
    run_command,
)
from ops.control.probe import ProbeController
from ops.control.process import ProcessController
from ops.control.systemd import SystemdController

__all__ = [
    "AppController",
    "AppState",
    "ComposeConfig",
    "ComposeController",
    "ControllerConfig",
    "ControllerError",
    "NoControllerConfig",
    "ProbeController",
    "ProcessConfig",
    "ProcessController",
    "Runner",
    "SystemdConfig",
    "SystemdController",
    "make_controller",
    "parse_controller_config",
]


def make_controller(
    cfg: SystemdConfig | ComposeConfig | ProcessConfig | NoControllerConfig | dict[str, Any],
    api_url: str,
    *,
    runner: Runner = run_command,
) -> AppController:
    """Build the controller; a dict (from a config file) is validated first. ``runner`` is for tests."""
    if isinstance(cfg, dict):
        cfg = parse_controller_config(cfg)
    if isinstance(cfg, SystemdConfig):
        return SystemdController(cfg, runner)
    if isinstance(cfg, ComposeConfig):
        return ComposeController(cfg, runner)
    if isinstance(cfg, ProcessConfig):
        return ProcessController(cfg)
    return ProbeController(api_url)
