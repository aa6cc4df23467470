"""What people do in an incident thread (write, edit, delete, 📌) becomes timeline events for the record.

Only translation happens here; bot/record/thread_log.py decides what is kept and makes each
append idempotent (Slack redelivers events).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.record.thread_log import ThreadLog
from handlers.deps import HandlerDeps

PEOPLE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def _files(message: dict[str, Any]) -> list[str]:
    return [
        str(f.get("title") or f.get("name") or f.get("id")) for f in message.get("files") or [] if isinstance(f, dict)
    ]


def register(app: App, deps: HandlerDeps) -> None:
    log = ThreadLog(deps.service)

    def in_incident_thread(channel: str, message: dict[str, Any]) -> str | None:
        thread_ts = message.get("thread_ts")
        if not thread_ts or message.get("bot_id"):
            return None  # not in a thread, or a bot's post (ours renders events already kept)
        incident = deps.service.by_thread(channel, str(thread_ts))
        return incident.id if incident else None

    @app.event("message")
    def thread_message(event: dict[str, Any]) -> None:
        channel = str(event.get("channel", ""))
        subtype = event.get("subtype")
        if subtype == "message_changed":
            msg = event.get("message") or {}
            incident_id = in_incident_thread(channel, msg)
            if incident_id:
                previous = event.get("previous_message") or {}
                log.changed(
                    incident_id,
                    str(msg.get("ts")),
                    msg.get("user"),
                    str(msg.get("text") or ""),
                    previous.get("text"),
                    str(event.get("event_ts") or event.get("ts")),
                )
            return
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            incident_id = in_incident_thread(channel, previous)
            if incident_id:
                log.deleted(incident_id, str(event.get("deleted_ts")), previous.get("user"), previous.get("text"))
            return
        if subtype not in PEOPLE_SUBTYPES:
            return  # joins, channel topic changes, ...
        incident_id = in_incident_thread(channel, event)
        if incident_id and event.get("thread_ts") != event.get("ts"):
            log.message(
                incident_id, str(event.get("ts")), event.get("user"), str(event.get("text") or ""), _files(event)
            )

    def on_reaction(event: dict[str, Any], added: bool) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        incident = log.incident_for_message(str(item.get("channel")), str(item.get("ts")))
        if incident is not None:
            log.reaction(
                incident.id,
                str(item["ts"]),
                str(event.get("user")),
                str(event.get("reaction")),
                added,
                str(event.get("event_ts")),
            )

    @app.event("reaction_added")
    def reaction_added(event: dict[str, Any]) -> None:
        on_reaction(event, True)

    @app.event("reaction_removed")
    def reaction_removed(event: dict[str, Any]) -> None:
        on_reaction(event, False)
