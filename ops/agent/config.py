"""Agent settings from the environment (``ROLLBACK_AGENT_*``), overridable by CLI flags.

The secret is read from the variable named by ``secret_env`` (default ``ROLLBACK_AGENT_SECRET``)
and never stored in the settings object, so it cannot leak through a repr or a log line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ops.control.base import AppController
from ops.deployment import Deployment
from ops.host import Host

DEFAULT_SECRET_ENV = "ROLLBACK_AGENT_SECRET"


class ConfigError(Exception):
    """Unusable configuration; the message is one line for a human (exit 2)."""


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLBACK_AGENT_", extra="ignore")

    deployment: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    state_dir: Path | None = None
    controller: dict[str, Any] | None = None  # JSON in ROLLBACK_AGENT_CONTROLLER
    api_url: str = "http://127.0.0.1:8080"
    secret_env: str = DEFAULT_SECRET_ENV
    # folders replace_db may copy a DB from, besides backups/ (JSON list in ROLLBACK_AGENT_SOURCE_DIRS)
    source_dirs: list[Path] = Field(default_factory=list)
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    def secret(self) -> str:
        value = os.environ.get(self.secret_env, "")
        if not value.strip():
            raise ConfigError(f"{self.secret_env} is not set: export a shared secret (e.g. `openssl rand -hex 32`)")
        if len(value) < 16:
            raise ConfigError(f"{self.secret_env} is too short: use at least 16 characters")
        return value

    def locate(self) -> Deployment:
        if self.deployment is None:
            raise ConfigError("no deployment: pass --deployment PATH or set ROLLBACK_AGENT_DEPLOYMENT")
        return Deployment.locate(self.deployment)

    def resolved_state_dir(self, deployment: Deployment) -> Path:
        return (self.state_dir or deployment.state_dir).expanduser().resolve()


def make_controller_from(config: dict[str, Any] | None, api_url: str) -> AppController:
    """Build the app controller (validated by ops.control). No config: probe the API only."""
    from pydantic import ValidationError

    from ops.control import make_controller
    from ops.registry import summarise_validation

    try:
        return make_controller(dict(config) if config else {"kind": "none"}, api_url)
    except ValidationError as exc:
        raise ConfigError(f"controller config: {summarise_validation(exc)}") from None


def build_host(settings: AgentSettings) -> Host:
    deployment = settings.locate()
    controller = make_controller_from(settings.controller, settings.api_url)
    missing = [d for d in settings.source_dirs if not d.is_dir()]
    if missing:
        raise ConfigError(f"source dir {missing[0]} is not a folder (--source-dir / ROLLBACK_AGENT_SOURCE_DIRS)")
    return Host(
        deployment=deployment,
        controller=controller,
        api_url=settings.api_url,
        source_dirs=tuple(d.expanduser().resolve() for d in settings.source_dirs),
    )
