"""Configuration from environment variables (pydantic-settings); see .env.example.

Validation happens once at start-up so a bad deployment fails loudly with the variable's name
instead of at 3 a.m. on the first click.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.agents import AgentTarget


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    slack_bot_token: SecretStr = Field(description="Bot token (xoxb-...)")
    slack_signing_secret: SecretStr | None = Field(default=None, description="Signing secret (HTTP mode)")
    slack_app_token: SecretStr | None = Field(default=None, description="App token (xapp-...): Socket Mode")
    slack_api_base_url: str = "https://slack.com/api/"
    rollback_store_path: Path = Path("rollback-bot.db")
    rollback_runbook_path: Path | None = None
    rollback_contacts_path: Path | None = None
    rollback_pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    rollback_default_environment: str = "production"
    rollback_agents: dict[str, AgentTarget] = Field(default_factory=dict)
    rollback_operators: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rollback_operator_group: str | None = None
    rollback_time_zone: str = "UTC"
    # bolt runs listeners (ack, then the Slack calls after it) on this many threads; with bolt's
    # default of 5, acks queue behind other clicks' post-ack work under load (bench/README.md)
    rollback_listener_workers: int = Field(default=32, ge=1, le=1024)
    # Clicks acked at the HTTP layer (app/ack_gate.py) are handled to completion on this many
    # threads: the work is bound by the GIL, so more threads only take it from the acks.
    rollback_click_workers: int = Field(default=4, ge=1, le=256)
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() == "":
            return None
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("rollback_pagerduty_events_url")
    @classmethod
    def _events_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("slack_api_base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v if v.endswith("/") else v + "/"

    @field_validator("rollback_operators", mode="before")
    @classmethod
    def _operators(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @field_validator(
        "rollback_runbook_path", "rollback_contacts_path", "rollback_operator_group", "slack_app_token", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        """``VAR=`` (as in an exported .env.example) means "not set", not "the current folder"."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("rollback_time_zone")
    @classmethod
    def _time_zone(cls, v: str) -> str:
        name = v.strip() or "UTC"
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/Berlin or UTC") from None
        return name

    @field_validator("rollback_store_path")
    @classmethod
    def _store_is_a_file(cls, v: Path) -> Path:
        if str(v).strip() in ("", "."):
            raise ValueError("must name a SQLite file, e.g. rollback-bot.db")
        if v.is_dir():
            raise ValueError(f"{v} is a folder; name a SQLite file inside it")
        return v

    @field_validator("rollback_runbook_path", "rollback_contacts_path")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file {v} does not exist")
        return v

    @property
    def signing_secret(self) -> str | None:
        return self.slack_signing_secret.get_secret_value() if self.slack_signing_secret else None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def environments(self) -> list[str]:
        """Known environments: the configured agents, plus the default one."""
        names = list(self.rollback_agents)
        if self.rollback_default_environment not in names:
            names.insert(0, self.rollback_default_environment)
        return names


class BotConfigError(Exception):
    """A single human line naming the offending variable."""


def load_settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**overrides)
        if not settings.socket_mode and settings.slack_signing_secret is None:
            raise BotConfigError(
                "config error: SLACK_SIGNING_SECRET is missing (required unless SLACK_APP_TOKEN is set)"
            )
        return settings
    except ValidationError as exc:
        raise BotConfigError(describe_validation_error(exc)) from None
    except SettingsError as exc:  # raised before validation, e.g. JSON that does not parse
        field = re.search(r'field "([^"]+)"', str(exc))
        var = field.group(1).upper() if field else "?"
        raise BotConfigError(f"config error: {var} is not valid JSON ({exc.__cause__ or exc})") from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        var = str(err["loc"][0]).upper() if err["loc"] else "?"
        msg = "is missing" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
        parts.append(f"{var} {msg}")
    return "config error: " + "; ".join(parts)


def agents_json(agents: dict[str, AgentTarget]) -> str:
    """The ROLLBACK_AGENTS value for a set of agents (used by the demo and the docs)."""
    return json.dumps(
        {
            k: {
                "url": a.url,
                "secret": a.secret.get_secret_value(),
                **({"deployment": a.deployment} if a.deployment else {}),
            }
            for k, a in agents.items()
        }
    )
