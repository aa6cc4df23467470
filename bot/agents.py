"""The host agents the bot can call, one per environment (ROLLBACK_AGENTS)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pydantic import BaseModel, SecretStr, field_validator

from ops.client import AgentClient

CALLER = "rollback-bot"


class AgentTarget(BaseModel):
    """One go-fast-cdn host: where its rollback-agent listens and the shared secret, and optionally
    the go-fast-cdn folder there (filled into the by-hand commands the thread shows)."""

    url: str
    secret: SecretStr
    deployment: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class AgentDirectory:
    """Lazily built, shared clients; the client itself is thread-safe (httpx.Client)."""

    def __init__(self, targets: Mapping[str, AgentTarget], *, timeout_s: float = 10.0, retries: int = 3) -> None:
        self._targets = dict(targets)
        self._timeout_s = timeout_s
        self._retries = retries
        self._clients: dict[str, AgentClient] = {}
        self._lock = threading.Lock()

    def url_for(self, environment: str) -> str | None:
        target = self._targets.get(environment)
        return target.url if target else None

    def deployment_for(self, environment: str) -> str | None:
        target = self._targets.get(environment)
        return target.deployment if target else None

    def client_for(self, environment: str) -> AgentClient | None:
        target = self._targets.get(environment)
        if target is None:
            return None
        with self._lock:
            if environment not in self._clients:
                self._clients[environment] = AgentClient(
                    target.url,
                    target.secret.get_secret_value(),
                    CALLER,
                    timeout_s=self._timeout_s,
                    retries=self._retries,
                )
            return self._clients[environment]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
