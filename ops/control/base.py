"""What the agent needs from whatever runs go-fast-cdn (systemd, docker compose, a plain process)."""

from __future__ import annotations

from typing import Protocol

from ops.models import AppState


class AppController(Protocol):
    kind: str

    def state(self) -> AppState: ...

    def stop(self, timeout_s: float) -> AppState: ...

    def start(self, timeout_s: float) -> AppState: ...

    def logs(self, lines: int) -> list[str]: ...
