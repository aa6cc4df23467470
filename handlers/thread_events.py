"""Messages people write in an incident thread become timeline events for the incident record."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from handlers.deps import HandlerDeps


def register(app: App, deps: HandlerDeps) -> None:
    @app.event("message")
    def thread_message(event: dict[str, Any]) -> None:
        # Our own posts, edits and joins are not part of what people said.
        if event.get("bot_id") or event.get("subtype") or not event.get("thread_ts"):
            return
        incident = deps.service.by_thread(str(event.get("channel", "")), str(event["thread_ts"]))
        if incident is None:
            return
        deps.service.record_thread_message(
            incident.id, event.get("user"), str(event.get("ts", "")), str(event.get("text", ""))
        )
