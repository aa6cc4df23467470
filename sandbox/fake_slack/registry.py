"""Web API method registry, argument coercion and the error type handlers raise.

Handlers are plain functions over the in-memory workspace; the HTTP layer only parses, authenticates
and serializes, so every method is testable without a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.fake_slack.state import Workspace


class SlackError(Exception):
    """An `ok: false` answer; `error` is the Slack error code."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class RateLimited(SlackError):
    """HTTP 429 with Retry-After, as Slack answers when a method's rate limit is hit."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("ratelimited")
        self.retry_after = retry_after


class MethodArgs:
    """Request arguments from JSON, form or query; values arrive as str or JSON types."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def opt(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return str(value)

    def req(self, key: str, error: str | None = None) -> str:
        value = self.opt(key)
        if value is None:
            raise SlackError(error or "invalid_arguments", detail=f"missing {key}")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def int(self, key: str, default: int) -> int:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_arguments", detail=f"{key} must be an integer") from exc

    def json(self, key: str) -> Any:
        """A structured argument: slack_sdk sends lists in JSON bodies but JSON strings in forms."""
        value = self.data.get(key)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError as exc:
                raise SlackError(f"invalid_{key}", detail="not valid JSON") from exc
        return value


Handler = Callable[["Workspace", MethodArgs], dict[str, Any]]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under its Web API method name (e.g. "chat.postMessage")."""

    def register(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn

    return register
