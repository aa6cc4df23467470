"""The pinned notes message in an incident thread: posted once, pinned, edited in place as things happen.

Edits are throttled like job progress: at most one ``chat.update`` per ``min_interval_s`` per
incident, the last change always shown (a trailing edit is scheduled, never dropped). The message
is re-rendered from the store every time (bot/record/notes.py), so a lost edit heals on the next.
Its ts is kept in the timeline (``notes.posted``), which also survives a restart. Posting never
doubles, like the thread's other messages (handlers/publisher.py): the attempt is recorded first
(``notes.posting``), and a post a crash or timeout left in doubt is looked up in the thread by its
marker block_id before it is ever sent again (and only once the attempt is older than the grace in
which a slow Slack may still store it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import Incident
from bot.incidents import IncidentService
from bot.record.notes import build_notes
from handlers.message import IN_DOUBT_GRACE_S, find_marked, marker
from handlers.notes_blocks import NOTES_KEY, notes_message

log = logging.getLogger(__name__)

NOTES_EVENT = "notes.posted"
NOTES_ATTEMPT_EVENT = "notes.posting"


class NotesPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        *,
        min_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        role_names: Callable[[], dict[str, str]] = dict,
        in_doubt_grace_s: float = IN_DOUBT_GRACE_S,
    ) -> None:
        self.client = client
        self.role_names = role_names
        self.service = service
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._last_edit: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._render_lock = threading.Lock()
        self._closed = False
        self._post_lock = threading.Lock()
        self._shown: dict[str, str] = {}  # incident -> digest of what Slack last accepted
        self.in_doubt_grace_s = in_doubt_grace_s

    def notes_ts(self, incident_id: str) -> str | None:
        ts = self._last_event(incident_id, NOTES_EVENT, "json_extract(data, '$.ts')")
        return str(ts) if ts else None

    def _last_event(self, incident_id: str, kind: str, column: str) -> object:
        rows = self.service.store.query(
            f"SELECT {column} AS v FROM events WHERE incident_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
            (incident_id, kind),
        )
        return rows[0]["v"] if rows else None

    def post(self, incident: Incident) -> str | None:
        """Post the notes as the thread's first reply and pin them; a failed pin is logged, not fatal.
        None while an earlier attempt is still in doubt (the reconciler's next pass tries again)."""
        if incident.thread_ts is None:
            return None
        with self._post_lock:
            if ts := self.notes_ts(incident.id):
                return ts
            attempted = self._last_event(incident.id, NOTES_ATTEMPT_EVENT, "at")
            if attempted:
                found = self._find_posted(incident)
                if found:
                    log.info("found the notes of %s already in Slack (%s)", incident.id, found)
                    self.service.record(incident.id, NOTES_EVENT, None, ts=found, found_by_lookup=True)
                    self.refresh(incident.id)  # they may show an older state than the store
                    return found
                age = (self.service.clock() - datetime.fromisoformat(str(attempted))).total_seconds()
                if age < self.in_doubt_grace_s:
                    return None  # a slow Slack may still store the earlier post
            msg = notes_message(
                build_notes(self.service, incident.id, clock=self.service.clock, role_names=self.role_names())
            )
            self.service.record(incident.id, NOTES_ATTEMPT_EVENT, None)
            resp = self.client.chat_postMessage(
                channel=incident.channel, thread_ts=incident.thread_ts, text=msg.text, blocks=msg.blocks
            )
            ts = str(resp["ts"])
            self.service.record(incident.id, NOTES_EVENT, None, ts=ts)
            self._shown[incident.id] = msg.digest()
        # A change while the post was on its way found no ts to edit, so its edit was dropped: show
        # it now (no call, and no edit counted, when nothing changed).
        self.refresh(incident.id)
        try:
            self.client.pins_add(channel=incident.channel, timestamp=ts)
        except SlackApiError as exc:  # e.g. missing pins:write: the notes still work unpinned
            log.warning("could not pin the notes of %s: %s", incident.id, exc.response.get("error"))
        return ts

    def _find_posted(self, incident: Incident) -> str | None:
        assert incident.thread_ts is not None
        pages = self.client.conversations_replies(channel=incident.channel, ts=incident.thread_ts, limit=200)
        return find_marked(pages, marker(incident.id, NOTES_KEY))

    def refresh(self, incident_id: str) -> None:
        """Show the current notes soon, off the caller's thread: at most one edit per ``min_interval_s``,
        the last change always shown (one trailing edit). A redraw never waits for the notes."""
        with self._lock:
            if self._closed or incident_id in self._timers:
                return  # an edit is already on its way and will read the newest state
            now = self.clock()
            wait = max(0.0, self.min_interval_s - (now - self._last_edit.get(incident_id, float("-inf"))))
            timer = threading.Timer(wait, self._flush, args=(incident_id,))
            timer.daemon = True
            self._timers[incident_id] = timer
            timer.start()

    def refresh_now(self, incident_id: str) -> None:
        """Edit at once (closing, reopening): the final state must not wait for a timer."""
        self._render(incident_id)

    def _flush(self, incident_id: str) -> None:
        # The render lock is taken before the closed check, so close() can wait for a render in flight.
        with self._render_lock:
            with self._lock:
                self._timers.pop(incident_id, None)
                if self._closed:
                    return
            self._render_locked(incident_id)

    def _render(self, incident_id: str) -> None:
        with self._render_lock:
            self._render_locked(incident_id)

    def _render_locked(self, incident_id: str) -> None:
        ts = self.notes_ts(incident_id)
        if ts is None:
            return
        incident = self.service.get(incident_id)
        msg = notes_message(
            build_notes(self.service, incident_id, clock=self.service.clock, role_names=self.role_names())
        )
        digest = msg.digest()
        if self._shown.get(incident_id) == digest:
            return  # nothing to show, and no edit spent from the throttle
        with self._lock:
            self._last_edit[incident_id] = self.clock()
        try:
            self.client.chat_update(channel=incident.channel, ts=ts, text=msg.text, blocks=msg.blocks)
        except SlackApiError as exc:  # the next change re-renders everything from the store
            log.warning("could not update the notes of %s: %s", incident_id, exc.response.get("error"))
            return
        self._shown[incident_id] = digest

    def close(self) -> None:
        """Stop the timers, but show the edits they were holding back first: the last state is kept.
        Returns only once no timer's edit is in flight, so nothing reads the store after it."""
        with self._lock:
            self._closed = True
            pending = list(self._timers)
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        with self._render_lock:  # a timer's edit that began before the flag was set finishes first
            pass
        for incident_id in pending:
            try:
                self._render(incident_id)
            except Exception:  # shutting down: Slack or the store may be gone already
                log.exception("could not show the last notes of %s", incident_id)
