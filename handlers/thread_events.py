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
        ts = str(event.get("ts", ""))
        # Slack redelivers events it thinks were not acked; the message ts makes the record idempotent.
        if any(e.kind == "thread.message" and e.data.get("ts") == ts for e in deps.service.events(incident.id)):
            return
        deps.service.record(incident.id, "thread.message", event.get("user"), ts=ts, text=str(event.get("text", "")))
