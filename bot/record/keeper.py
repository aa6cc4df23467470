"""Write a record version: build it, render the Markdown, store both (the close flow's domain half).

The Slack edge reads the thread and the display names first and uploads the Markdown afterwards;
everything in between is here, so the CLI, the tests and the bench produce the same record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from bot.incidents import IncidentService
from bot.record.builder import RecordBuilder
from bot.record.markdown import render_markdown
from bot.record.model import ClosingNotes, FollowUpItem
from bot.record.timeline import SlackThreadMessage
from bot.record.versions import RecordArchive, StoredRecord
from ops.models import utcnow


class RecordKeeper:
    def __init__(
        self, service: IncidentService, *, time_zone: str = "UTC", clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.service = service
        self.time_zone = time_zone
        self.builder = RecordBuilder(service, clock=clock)
        self.archive = RecordArchive(service)

    def write(
        self,
        incident_id: str,
        *,
        by: str | None,
        kind: Literal["full", "short"] = "full",
        notes: ClosingNotes | None = None,
        thread: list[SlackThreadMessage] | None = None,
        thread_note: str = "",
        own_ids: frozenset[str] = frozenset(),
        names: Mapping[str, str] | None = None,
        follow_ups: Mapping[str, FollowUpItem] | None = None,
        role_names: Mapping[str, str] | None = None,
    ) -> StoredRecord:
        """Store the next version of the incident's record and return it (with its Markdown)."""
        with self.service.store.transaction():
            version = self.archive.next_version(incident_id)
            record = self.builder.build(
                incident_id,
                version=version,
                kind=kind,
                notes=notes,
                thread=thread,
                thread_note=thread_note,
                own_ids=own_ids,
                names=names,
                time_zone=self.time_zone,
                generated_by=by,
                follow_ups=follow_ups,
                role_names=role_names,
            )
            return self.archive.save(record, render_markdown(record), by)
