"""What people do in an incident thread, appended to the incident's timeline exactly once.

Slack redelivers events it thinks were not acknowledged, so every append is keyed: a message by
its ts, an edit or a reaction by its event ts, a deletion by the deleted ts. The record later
merges these with the thread as read from Slack (bot/record/timeline.py).
"""

from __future__ import annotations

from bot.domain import Incident
from bot.incidents import IncidentService
from bot.record.timeline import KEY_REACTION


class ThreadLog:
    def __init__(self, service: IncidentService) -> None:
        self.service = service

    def _seen(self, incident_id: str, kind: str, key: str, value: str) -> bool:
        rows = self.service.store.query(
            "SELECT 1 FROM events WHERE incident_id = ? AND kind = ? AND json_extract(data, ?) = ? LIMIT 1",
            (incident_id, kind, f"$.{key}", value),
        )
        return bool(rows)

    def incident_for_message(self, channel: str, ts: str) -> Incident | None:
        """The incident whose thread holds message ``ts`` (the parent, or a reply the bot was told of)."""
        found = self.service.by_thread(channel, ts)
        if found is not None:
            return found
        rows = self.service.store.query(
            "SELECT e.incident_id FROM events e JOIN incidents i ON i.id = e.incident_id "
            "WHERE e.kind = 'thread.message' AND i.channel = ? AND json_extract(e.data, '$.ts') = ? LIMIT 1",
            (channel, ts),
        )
        return self.service.get(rows[0]["incident_id"]) if rows else None

    def message(self, incident_id: str, ts: str, user: str | None, text: str, files: list[str]) -> bool:
        return self.service.record_thread_message(incident_id, user, ts, text, files)

    def changed(
        self, incident_id: str, ts: str, user: str | None, text: str, previous_text: str | None, event_ts: str
    ) -> bool:
        if previous_text is not None and previous_text == text:
            return False  # unfurls and attachments re-send the message unchanged
        with self.service.store.transaction():
            if self._seen(incident_id, "thread.message_changed", "event_ts", event_ts):
                return False
            self.service.record(
                incident_id,
                "thread.message_changed",
                user,
                ts=ts,
                text=text,
                previous_text=previous_text,
                event_ts=event_ts,
            )
        return True

    def deleted(self, incident_id: str, ts: str, user: str | None, previous_text: str | None) -> bool:
        with self.service.store.transaction():
            if self._seen(incident_id, "thread.message_deleted", "ts", ts):
                return False
            # The deleted text stays in the store (nothing lost); the record shows only that it was deleted.
            self.service.record(incident_id, "thread.message_deleted", user, ts=ts, previous_text=previous_text)
        return True

    def reaction(self, incident_id: str, ts: str, user: str, name: str, added: bool, event_ts: str) -> bool:
        """Only 📌 matters to the record (it marks a key event); other reactions are not kept."""
        if name != KEY_REACTION:
            return False
        kind = "thread.reaction_added" if added else "thread.reaction_removed"
        with self.service.store.transaction():
            if self._seen(incident_id, kind, "event_ts", event_ts):
                return False
            self.service.record(incident_id, kind, user, ts=ts, reaction=name, event_ts=event_ts)
        return True
