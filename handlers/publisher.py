"""Slack I/O for an incident thread: post it, and re-render messages from the store.

Messages are always rendered from the store, never patched, so a restart or a lost update heals
on the next click. A lock per message serialises render+update, so two clicks in one section
can't leave an older render on top of a newer one.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from slack_sdk import WebClient

from bot.incidents import Incident, IncidentService
from bot.paging import PagingView
from bot.record.versions import RecordArchive, UnknownRecordVersion
from bot.runbook import Runbook
from handlers.blocks import RecordLink, SectionContext, incident_parent, section_message
from handlers.message import SlackMessage

log = logging.getLogger(__name__)


class ThreadPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        runbook: Runbook,
        context_for: Callable[[str], SectionContext],
        paging_for: Callable[[str], PagingView | None] = lambda _incident_id: None,
        *,
        after_parent: Callable[[Incident], object] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.paging_for = paging_for
        self.service = service
        self.runbook = runbook
        self.context_for = context_for
        # The incident notes: posted right after the parent, refreshed whenever the parent is.
        self.after_parent = after_parent
        self.on_change = on_change
        self.records = RecordArchive(service)
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, incident_id: str, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[(incident_id, key)]

    def _progress(self, incident_id: str) -> tuple[int, int]:
        steps = self.service.steps(incident_id)
        return sum(1 for s in steps.values() if s.state in ("done", "skipped")), len(steps)

    def _parent(self, incident: Incident) -> SlackMessage:
        done, total = self._progress(incident.id)
        record = None
        if not incident.is_open:
            try:
                latest = self.records.get(incident.id)
                record = RecordLink(version=latest.version, url=latest.file_ref)
            except UnknownRecordVersion:
                record = None  # still being written; the parent is refreshed when it is stored
        return incident_parent(
            incident,
            done=done,
            total=total,
            agent_url=self.context_for(incident.id).agent_url,
            now=self.service.clock(),
            paging=self.paging_for(incident.id),
            record=record,
        )

    def open_thread(self, incident: Incident) -> str:
        """Post the parent message and one reply per runbook section; returns the thread ts."""
        parent = self._parent(incident)
        resp = self.client.chat_postMessage(channel=incident.channel, text=parent.text, blocks=parent.blocks)
        thread_ts = str(resp["ts"])
        self.service.attach_thread(incident.id, thread_ts)
        incident = self.service.get(incident.id)
        if self.after_parent is not None:
            try:
                self.after_parent(incident)
            except Exception:  # the checklist matters more than the notes: post it anyway
                log.exception("could not post the notes of %s", incident.id)
        steps = self.service.steps(incident.id)
        ctx = self.context_for(incident.id)
        for section in self.runbook.sections:
            msg = section_message(incident, section, steps, ctx)
            r = self.client.chat_postMessage(
                channel=incident.channel, thread_ts=thread_ts, text=msg.text, blocks=msg.blocks
            )
            self.service.set_section_message(incident.id, section.id, str(r["ts"]))
        self.service.record(
            incident.id, "slack.thread_posted", None, thread_ts=thread_ts, sections=len(self.runbook.sections)
        )
        return thread_ts

    def refresh_section(self, incident_id: str, section_id: str) -> None:
        with self._lock(incident_id, section_id):
            incident = self.service.get(incident_id)
            ts = self.service.section_messages(incident_id).get(section_id)
            if ts is None:
                log.warning("no message for section %s of %s", section_id, incident_id)
                return
            section = self.runbook.section(section_id)
            msg = section_message(incident, section, self.service.steps(incident_id), self.context_for(incident_id))
            self.client.chat_update(channel=incident.channel, ts=ts, text=msg.text, blocks=msg.blocks)

    def refresh_parent(self, incident_id: str) -> None:
        with self._lock(incident_id, "__parent__"):
            incident = self.service.get(incident_id)
            if incident.thread_ts is None:
                return
            msg = self._parent(incident)
            self.client.chat_update(channel=incident.channel, ts=incident.thread_ts, text=msg.text, blocks=msg.blocks)
        if self.on_change is not None:
            self.on_change(incident_id)

    def refresh_step(self, incident_id: str, step_id: str) -> None:
        self.refresh_section(incident_id, self.runbook.section_of(step_id).id)
        self.refresh_parent(incident_id)

    def post_in_thread(self, incident: Incident, msg: SlackMessage) -> str | None:
        if incident.thread_ts is None:
            return None
        r = self.client.chat_postMessage(
            channel=incident.channel, thread_ts=incident.thread_ts, text=msg.text, blocks=msg.blocks
        )
        return str(r["ts"])

    def reply(self, incident: Incident, text: str) -> str | None:
        if incident.thread_ts is None:
            return None
        r = self.client.chat_postMessage(channel=incident.channel, thread_ts=incident.thread_ts, text=text)
        return str(r["ts"])

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
