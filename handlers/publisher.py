"""Slack I/O for an incident thread: post it, and redraw messages from one snapshot of the store.

Messages are always rendered from the store, never patched, so a restart or a lost update heals
on the next click. A redraw takes the locks of every message it redraws, then reads ONE snapshot
(``IncidentService.snapshot``) and renders them all from it: two clicks in one section can't leave
an older render on top of a newer one, and a redraw costs one read however many messages it touches.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager

from slack_sdk import WebClient

from bot.follow_ups import FollowUp
from bot.incidents import Incident, IncidentService, IncidentSnapshot
from bot.paging import PagingView
from bot.record.versions import RecordArchive, UnknownRecordVersion
from bot.runbook import Runbook
from handlers.blocks import RecordLink, incident_parent, section_message
from handlers.drill_marker import mark_drill, mark_text
from handlers.message import SlackMessage
from handlers.steps import SectionContext

log = logging.getLogger(__name__)

PARENT = "__parent__"


class ThreadPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        runbook: Runbook,
        agent_url_for: Callable[[str], str | None],
        paging_for: Callable[[str], PagingView | None] = lambda _incident_id: None,
        deployment_for: Callable[[str], str | None] = lambda environment: None,
        *,
        follow_ups_for: Callable[[str], dict[str, FollowUp]] = lambda _incident_id: {},
        time_zone: str = "UTC",
        after_parent: Callable[[Incident], object] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.service = service
        self.runbook = runbook
        self.agent_url_for = agent_url_for
        self.paging_for = paging_for
        self.follow_ups_for = follow_ups_for
        self.time_zone = time_zone
        # The incident notes: posted right after the parent, refreshed whenever the parent is.
        self.after_parent = after_parent
        self.on_change = on_change
        self.records = RecordArchive(service)
        self.deployment_for = deployment_for  # the go-fast-cdn folder, for the by-hand commands
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, incident_id: str, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[(incident_id, key)]

    @contextmanager
    def _holding(self, incident_id: str, keys: Iterable[str]) -> Iterator[None]:
        with ExitStack() as stack:
            for key in sorted(set(keys)):  # one order for everyone: no deadlock between redraws
                stack.enter_context(self._lock(incident_id, key))
            yield

    def context(self, snap: IncidentSnapshot) -> SectionContext:
        env = snap.incident.environment
        return SectionContext(
            agent_url=self.agent_url_for(env),
            backups=snap.backups,
            deployment=self.deployment_for(env),
            follow_ups=self.follow_ups_for(snap.incident.id),
            time_zone=self.time_zone,
        )

    def _parent(self, snap: IncidentSnapshot) -> SlackMessage:
        incident = snap.incident
        record = None
        if not incident.is_open:
            try:
                latest = self.records.get(incident.id)
                record = RecordLink(version=latest.version, url=latest.file_ref)
            except UnknownRecordVersion:
                record = None  # still being written; the parent is redrawn when it is stored
        msg = incident_parent(
            incident,
            done=snap.done,
            total=snap.total,
            agent_url=self.agent_url_for(incident.environment),
            now=self.service.clock(),
            paging=self.paging_for(incident.id),
            record=record,
        )
        return self.marked(incident, msg)

    @staticmethod
    def marked(incident: Incident, msg: SlackMessage) -> SlackMessage:
        """Every message of a drill says DRILL; a real incident's messages are left as built."""
        return mark_drill(msg) if incident.drill else msg

    def open_thread(self, incident: Incident) -> str:
        """Post the parent message and one reply per runbook section; returns the thread ts."""
        parent = self._parent(self.service.snapshot(incident.id))
        resp = self.client.chat_postMessage(channel=incident.channel, text=parent.text, blocks=parent.blocks)
        thread_ts = str(resp["ts"])
        self.service.attach_thread(incident.id, thread_ts)
        if self.after_parent is not None:
            try:
                self.after_parent(self.service.get(incident.id))
            except Exception:  # the checklist matters more than the notes: post it anyway
                log.exception("could not post the notes of %s", incident.id)
        snap = self.service.snapshot(incident.id)
        ctx = self.context(snap)
        for section in self.runbook.sections:
            msg = self.marked(snap.incident, section_message(snap.incident, section, snap.steps, ctx))
            r = self.client.chat_postMessage(
                channel=incident.channel, thread_ts=thread_ts, text=msg.text, blocks=msg.blocks
            )
            self.service.set_section_message(incident.id, section.id, str(r["ts"]))
        self.service.record(
            incident.id, "slack.thread_posted", None, thread_ts=thread_ts, sections=len(self.runbook.sections)
        )
        return thread_ts

    def redraw(
        self,
        incident_id: str,
        *,
        sections: Iterable[str] = (),
        parent: bool = False,
        first: Callable[[IncidentSnapshot], None] | None = None,
    ) -> IncidentSnapshot:
        """Re-render the given section messages (and the parent) from one snapshot; ``first`` runs
        with the same snapshot before them (e.g. to show a job's result). Returns the snapshot."""
        wanted = list(dict.fromkeys(sections))
        with self._holding(incident_id, [*wanted, *([PARENT] if parent else [])]):
            snap = self.service.snapshot(incident_id)
            if first is not None:
                first(snap)
            incident, ctx = snap.incident, self.context(snap)
            for section_id in wanted:
                ts = snap.section_messages.get(section_id)
                if ts is None:
                    log.warning("no message for section %s of %s", section_id, incident_id)
                    continue
                section = self.runbook.section(section_id)
                msg = self.marked(incident, section_message(incident, section, snap.steps, ctx))
                self.client.chat_update(channel=incident.channel, ts=ts, text=msg.text, blocks=msg.blocks)
            if parent and incident.thread_ts is not None:
                msg = self._parent(snap)
                self.client.chat_update(
                    channel=incident.channel, ts=incident.thread_ts, text=msg.text, blocks=msg.blocks
                )
        if parent and self.on_change is not None:
            self.on_change(incident_id)
        return snap

    def refresh_section(self, incident_id: str, section_id: str) -> None:
        self.redraw(incident_id, sections=[section_id])

    def refresh_parent(self, incident_id: str) -> None:
        self.redraw(incident_id, parent=True)

    def refresh_step(self, incident_id: str, step_id: str) -> None:
        """A step changed: its section and the parent's progress."""
        self.redraw(incident_id, sections=[self.runbook.section_of(step_id).id], parent=True)

    def option_sections(self) -> list[str]:
        return [s.id for s in self.runbook.sections if s.option is not None]

    def post_in_thread(self, incident: Incident, msg: SlackMessage) -> str | None:
        if incident.thread_ts is None:
            return None
        msg = self.marked(incident, msg)
        r = self.client.chat_postMessage(
            channel=incident.channel, thread_ts=incident.thread_ts, text=msg.text, blocks=msg.blocks
        )
        return str(r["ts"])

    def reply(self, incident: Incident, text: str) -> str | None:
        if incident.thread_ts is None:
            return None
        text = mark_text(text) if incident.drill else text
        r = self.client.chat_postMessage(channel=incident.channel, thread_ts=incident.thread_ts, text=text)
        return str(r["ts"])

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        incident = self.service.by_thread(channel, thread_ts) if thread_ts else None
        if incident is not None and incident.drill:
            text = mark_text(text)
        self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
