"""Closing an incident's paperwork in Slack: read the thread, write a record version, upload it.

Runs on its own worker thread, never on bolt's listener pool: reading a long thread can take
minutes under Slack's history limits. Every step that can fail says so in the thread, and the
record is stored before the upload, so an upload failure never loses it (``rollback-bot record``
prints it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.incidents import IncidentService
from bot.record.keeper import RecordKeeper
from bot.record.model import ClosingNotes
from bot.record.timeline import SlackThreadMessage
from bot.record.versions import StoredRecord
from handlers.thread_history import ThreadUnreadable, UserNames, fetch_thread

log = logging.getLogger(__name__)


class RecordPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        keeper: RecordKeeper,
        *,
        on_stored: Callable[[str], None] = lambda incident_id: None,
        role_names: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.client = client
        self.service = service
        self.keeper = keeper
        self.names = UserNames(client)
        self.on_stored = on_stored
        self.role_names = role_names
        self._own_ids: frozenset[str] | None = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="incident-record")

    def own_ids(self) -> frozenset[str]:
        """The bot's user id and bot id: its own thread messages are not repeated in the timeline."""
        if self._own_ids is None:
            auth = self.client.auth_test()
            self._own_ids = frozenset(str(x) for x in (auth.get("user_id"), auth.get("bot_id")) if x)
        return self._own_ids

    def publish(
        self, incident_id: str, *, by: str, kind: Literal["full", "short"], notes: ClosingNotes
    ) -> Future[StoredRecord | None]:
        return self._pool.submit(self._publish_safely, incident_id, by, kind, notes)

    def recover(self) -> int:
        """After a restart, write records that were requested (a close) but never stored."""
        count = 0
        for incident in self.service.incidents():
            if incident.is_open:
                continue
            last_request = None
            stored_after = False
            for event in self.service.events(incident.id):
                if event.kind == "record.requested":
                    last_request, stored_after = event, False
                elif event.kind == "record.stored" and last_request is not None:
                    stored_after = True
            if last_request is not None and not stored_after:
                kind: Literal["full", "short"] = "short" if last_request.data.get("record_kind") == "short" else "full"
                notes = ClosingNotes.model_validate(last_request.data.get("notes") or {})
                self.publish(incident.id, by=last_request.actor or "rollback-bot", kind=kind, notes=notes)
                count += 1
        return count

    def _publish_safely(
        self, incident_id: str, by: str, kind: Literal["full", "short"], notes: ClosingNotes
    ) -> StoredRecord | None:
        try:
            return self._publish(incident_id, by, kind, notes)
        except Exception as exc:
            log.exception("writing the record of %s failed", incident_id)
            self._reply(incident_id, f":warning: The incident record of {incident_id} could not be written: {exc}")
            return None

    def _user_ids(self, incident_id: str, thread: list[SlackThreadMessage] | None) -> set[str]:
        ids = {e.actor for e in self.service.events(incident_id) if e.actor}
        ids |= {s.actor for s in self.service.steps(incident_id).values() if s.actor}
        ids |= {m.user for m in thread or [] if m.user}
        incident = self.service.get(incident_id)
        ids |= {u for u in (incident.opened_by, incident.closed_by) if u}
        for table, cols in (("pages", ("user_id", "acked_by")), ("follow_ups", ("owner", "done_by"))):
            if self.service.store.db[table].exists():
                for row in self.service.store.rows(table, "incident_id = ?", [incident_id]):
                    ids |= {str(row[c]) for c in cols if row.get(c)}
        return {i for i in ids if i}

    def _publish(self, incident_id: str, by: str, kind: Literal["full", "short"], notes: ClosingNotes) -> StoredRecord:
        incident = self.service.get(incident_id)
        thread: list[SlackThreadMessage] | None = None
        thread_note = ""
        if incident.thread_ts:
            try:
                thread = fetch_thread(self.client, incident.channel, incident.thread_ts)
            except ThreadUnreadable as exc:
                thread_note = f"the thread could not be read ({exc}); messages come from the events the bot received"
        names = self.names.names(self._user_ids(incident_id, thread))
        stored = self.keeper.write(
            incident_id,
            by=by,
            kind=kind,
            notes=notes,
            thread=thread,
            thread_note=thread_note,
            own_ids=self.own_ids(),
            names=names,
            role_names=self.role_names(),
        )
        link = self._upload(incident_id, stored)
        self.on_stored(incident_id)
        what = "Short record (cancelled)" if kind == "short" else "Incident record"
        where = f"<{link}|{incident_id} record v{stored.version}>" if link else f"`rollback-bot record {incident_id}`"
        note = f" Note: {thread_note}." if thread_note else ""
        self._reply(incident_id, f":page_facing_up: {what} version {stored.version} stored: {where}.{note}")
        return stored

    def _upload(self, incident_id: str, stored: StoredRecord) -> str | None:
        """Upload the Markdown into the thread (files v2); returns its permalink, None if it failed."""
        incident = self.service.get(incident_id)
        filename = f"{incident_id}-record-v{stored.version}.md"
        try:
            resp = self.client.files_upload_v2(
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                content=stored.markdown,
                filename=filename,
                title=f"{incident_id} incident record, version {stored.version}",
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else exc
            log.warning("upload of %s failed: %s", filename, error)
            self._reply(
                incident_id,
                f":warning: The record of {incident_id} is stored, but uploading {filename} failed ({error}). "
                f"Print it with `rollback-bot record {incident_id} --version {stored.version}`.",
            )
            return None
        file = resp.get("file") or {}
        link = file.get("permalink")
        self.keeper.archive.set_file(incident_id, stored.version, str(file.get("id")), link)
        return str(link) if link else None

    def _reply(self, incident_id: str, text: str) -> None:
        incident = self.service.get(incident_id)
        if incident.thread_ts is None:
            return
        try:
            self.client.chat_postMessage(channel=incident.channel, thread_ts=incident.thread_ts, text=text)
        except SlackApiError:
            log.exception("could not post to the thread of %s", incident_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
