"""Slack I/O for incident threads: the thread converges on the store's thread plan.

Listeners and the job runner only *ask* (``open_thread``, ``redraw``/``refresh_*``, ``reply``,
``show_job``, ``ephemeral``); the asks go to a :class:`~handlers.publish_queue.PublishQueue`, never to
Slack on the caller's thread, so an ack never waits on a rate-limited Web API. Asked-for redraws are
collected per incident; when the work runs it reads ONE snapshot of the incident
(``IncidentService.snapshot``) and renders every collected message from it, so repeated edits of one
message collapse into its latest state and a redraw costs one read however many messages it touches.

Posting is resumable and never doubles (see bot/thread_plan.py): the attempt is recorded before the
post; a post Slack answered with an error is cleared; one that timed out or died stays *in doubt* and
is looked up in the channel (parent) or the thread (replies) by the marker every message carries as
its first ``block_id`` (``rb|<incident>|<key>``) before it is ever posted again. A slow Slack may
store a post after the client gave up on it, so "not found" only counts once the attempt is older
than ``in_doubt_grace_s``; until then the message waits for the next pass. A render whose hash
equals what Slack last accepted is skipped, so :meth:`reconcile` is cheap to run often.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.follow_ups import FollowUp
from bot.incidents import Incident, IncidentService, IncidentSnapshot
from bot.paging import PagingView
from bot.record.versions import RecordArchive, UnknownRecordVersion
from bot.runbook import Runbook
from bot.thread_plan import PARENT_KEY, MessageKind, ThreadMessage, ThreadPlan, job_key, offer_key, section_key
from handlers.blocks import RecordLink, fallback_offer, incident_parent, section_message
from handlers.drill_marker import mark_drill, mark_text
from handlers.message import IN_DOUBT_GRACE_S, SlackMessage, find_marked, marker
from handlers.publish_queue import PublishQueue
from handlers.steps import SectionContext
from ops.models import BackupInfo

log = logging.getLogger(__name__)

Renderer = Callable[[IncidentSnapshot, ThreadMessage], SlackMessage]
PostOutcome = Literal["posted", "skip", "stop"]
SYSTEM_ACTOR = "rollback-bot"


class ThreadPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        plan: ThreadPlan,
        runbook: Runbook,
        agent_url_for: Callable[[str], str | None],
        paging_for: Callable[[str], PagingView | None] = lambda _incident_id: None,
        deployment_for: Callable[[str], str | None] = lambda _environment: None,
        *,
        post_client: WebClient | None = None,
        queue: PublishQueue | None = None,
        in_doubt_grace_s: float = IN_DOUBT_GRACE_S,
        follow_ups_for: Callable[[str], dict[str, FollowUp]] = lambda _incident_id: {},
        time_zone: str = "UTC",
        after_parent: Callable[[Incident], object] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        # Posts go through a client that retries only what Slack answered with 429: a retried post
        # after a dropped connection could be a second copy. In-doubt posts are looked up instead.
        self.post_client = post_client or client
        self.service = service
        self.plan = plan
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
        self._dirty: dict[str, set[str] | None] = {}  # incident -> keys to redraw (None: every posted one)
        self._dirty_lock = threading.Lock()
        self.queue = queue or PublishQueue()
        self.in_doubt_grace_s = in_doubt_grace_s
        self._ephemerals = itertools.count()
        self._context_slot = threading.local()  # (snapshot, its SectionContext) per worker thread
        self._renderers: dict[str, Renderer] = {
            "parent": self._render_parent,
            "section": self._render_section,
            "offer": self._render_offer,
            "note": self._render_note,
        }

    def register_renderer(self, kind: MessageKind, renderer: Renderer) -> None:
        self._renderers[kind] = renderer

    def close(self) -> None:
        self.queue.close()

    # -- asks (return at once; the queue does the Web API work) -----------------------------------
    def open_thread(self, incident: Incident) -> None:
        """Plan the parent and one reply per runbook section, and post them."""
        self.plan.plan_incident(incident.id)
        self.converge(incident.id)

    def converge(self, incident_id: str) -> None:
        """Post whatever the incident's thread is still missing, in order."""
        self.queue.submit(("posts", incident_id), lambda: self._post_missing(incident_id))

    def refresh(self, incident_id: str, *keys: str, every: bool = False) -> None:
        """Redraw these messages (``every``: all posted ones) from one snapshot, soon."""
        self._rerender(incident_id, keys, every=every)
        if self.on_change is not None and (every or PARENT_KEY in keys):
            self.on_change(incident_id)  # the pinned notes follow the parent (throttled, off this thread)

    def _rerender(self, incident_id: str, keys: Iterable[str], *, every: bool = False) -> None:
        with self._dirty_lock:
            known = self._dirty.get(incident_id, set())
            self._dirty[incident_id] = None if every or known is None else known | set(keys)
        self.queue.submit(("render", incident_id), lambda: self._render(incident_id))

    def redraw(self, incident_id: str, *, sections: Iterable[str] = (), parent: bool = False) -> None:
        """Redraw the given section messages (and the parent)."""
        self.refresh(incident_id, *(section_key(s) for s in sections), *([PARENT_KEY] if parent else []))

    def refresh_section(self, incident_id: str, section_id: str) -> None:
        self.redraw(incident_id, sections=[section_id])

    def refresh_parent(self, incident_id: str) -> None:
        self.redraw(incident_id, parent=True)

    def refresh_step(self, incident_id: str, step_id: str) -> None:
        """A step changed: its section and the parent's progress."""
        self.redraw(incident_id, sections=[self.runbook.section_of(step_id).id], parent=True)

    def option_sections(self) -> list[str]:
        return [s.id for s in self.runbook.sections if s.option is not None]

    def show_job(self, incident_id: str, request_id: str, step_id: str) -> None:
        """The job's message (posted the first time, re-rendered after: running -> result), its
        step's section and the parent, redrawn together from one snapshot."""
        if self.plan.want(incident_id, job_key(request_id), "job"):
            self.converge(incident_id)
        self.refresh(incident_id, job_key(request_id), section_key(self.runbook.section_of(step_id).id), PARENT_KEY)

    def offer(self, incident_id: str, after_request_id: str, body: dict[str, Any]) -> None:
        """A fallback offer (body: option, operation, reason, backups), posted once per failed job."""
        if self.plan.want(incident_id, offer_key(after_request_id), "offer", body):
            self.converge(incident_id)

    def reply(self, incident: Incident, text: str) -> None:
        """A text reply in the thread (bot-made mrkdwn: escape anything a person typed first)."""
        self.plan.want_note(incident.id, {"text": text})
        self.converge(incident.id)

    def post_in_thread(self, incident: Incident, msg: SlackMessage) -> None:
        """A reply built once (a page notice, a reminder): kept in the plan and posted exactly once."""
        self.plan.want_note(incident.id, msg.model_dump())
        self.converge(incident.id)

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        def send() -> None:
            incident = self.service.by_thread(channel, thread_ts) if thread_ts else None
            shown = mark_text(text) if incident is not None and incident.drill else text
            self.client.chat_postEphemeral(channel=channel, user=user, text=shown, thread_ts=thread_ts)

        self.queue.submit(("ephemeral", next(self._ephemerals)), send)

    def reconcile(self, incident_ids: Iterable[str]) -> None:
        """Post what is missing and re-render everything posted (unchanged renders cost nothing)."""
        for incident_id in incident_ids:
            self.converge(incident_id)
            self.refresh(incident_id, every=True)

    # -- rendering ----------------------------------------------------------------------------------
    def context(self, snap: IncidentSnapshot) -> SectionContext:
        """What every section of one snapshot shares; built once per snapshot (its follow-up tasks are
        one read), however many sections a redraw renders from it."""
        cached = getattr(self._context_slot, "value", None)
        if cached is not None and cached[0] is snap:
            return cached[1]
        ctx = self._build_context(snap)
        self._context_slot.value = (snap, ctx)
        return ctx

    def _build_context(self, snap: IncidentSnapshot) -> SectionContext:
        env = snap.incident.environment
        return SectionContext(
            agent_url=self.agent_url_for(env),
            backups=snap.backups,
            deployment=self.deployment_for(env),
            follow_ups=self.follow_ups_for(snap.incident.id),
            time_zone=self.time_zone,
        )

    @staticmethod
    def marked(incident: Incident, msg: SlackMessage) -> SlackMessage:
        """Every message of a drill says DRILL; a real incident's messages are left as built."""
        return mark_drill(msg) if incident.drill else msg

    def render(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        """The message as the store has it now, marked DRILL for drills, with its lookup marker."""
        incident = snap.incident
        msg = self.marked(incident, self._renderers[row.kind](snap, row))
        blocks = [dict(b) for b in msg.blocks]
        if blocks and not blocks[0].get("block_id"):
            blocks[0]["block_id"] = marker(incident.id, row.key)
        else:
            log.warning("message %s of %s has no free first block_id for its marker", row.key, incident.id)
        return SlackMessage(text=msg.text, blocks=blocks)

    def _render_parent(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        incident = snap.incident
        record = None
        if not incident.is_open:
            try:
                latest = self.records.get(incident.id)
                record = RecordLink(version=latest.version, url=latest.file_ref)
            except UnknownRecordVersion:
                record = None  # still being written; the parent is redrawn when it is stored
        return incident_parent(
            incident,
            done=snap.done,
            total=snap.total,
            agent_url=self.agent_url_for(incident.environment),
            now=self.service.clock(),
            paging=self.paging_for(incident.id),
            record=record,
        )

    def _render_section(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        section = self.runbook.section(row.ref)
        return section_message(snap.incident, section, snap.steps, self.context(snap))

    def _render_offer(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        body = row.body or {}
        return fallback_offer(
            snap.incident,
            self.runbook.option(int(body["option"])),
            str(body.get("operation", "")),
            str(body.get("reason", "")),
            [BackupInfo.model_validate(b) for b in body.get("backups") or []],
        )

    def _render_note(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        body = row.body or {}
        text = str(body.get("text", ""))
        blocks = body.get("blocks") or [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        return SlackMessage(text=text, blocks=blocks)

    # -- the work the queue runs --------------------------------------------------------------------
    def _post_missing(self, incident_id: str) -> None:
        snap = self.service.snapshot(incident_id)
        if snap.incident.thread_ts is None and not snap.incident.is_open:
            return  # closed before Slack ever had it (e.g. Slack refused the parent): no thread to start
        posted: list[str] = []
        try:
            for row in [m for m in snap.thread.values() if m.ts is None]:
                if row.key != PARENT_KEY and snap.incident.thread_ts is None:
                    return  # replies wait for the parent
                outcome = self._post_one(snap, row)
                if outcome == "stop":
                    return  # Slack refused or is struggling: the rest wait for the reconciler's next pass
                if outcome == "posted":
                    posted.append(row.key)
                if outcome == "posted" and row.key == PARENT_KEY:
                    snap = self.service.snapshot(incident_id)  # now with the thread
                    self._after_parent(snap.incident)
            if snap.incident.thread_ts is not None:
                self._after_parent(snap.incident)  # notes a crash kept from going up (a no-op once posted)
        finally:
            if posted:
                # Each went up as this pass's snapshot had it; a redraw asked meanwhile found no ts
                # to edit and was dropped (a job that finished while its "running" reply was being
                # posted stayed "running"). Re-render from now: unchanged ones cost no call.
                self._rerender(incident_id, posted)

    def _post_one(self, snap: IncidentSnapshot, row: ThreadMessage) -> PostOutcome:
        """``posted`` (or found already there); ``skip``: still in doubt, the next rows may go on
        (one unknown message must not hold the rest of the thread back for a minute); ``stop``."""
        incident = snap.incident
        if row.in_doubt:
            try:
                found = self._find_posted(incident, row)
            except Exception as exc:  # can't tell whether it is there: never risk a second copy
                log.warning("could not look up %s of %s (%s); trying again later", row.key, incident.id, exc)
                return "skip"
            if found is not None:
                log.info("found %s of %s already in Slack (%s)", row.key, incident.id, found)
                self.plan.posted(incident.id, row.key, found)
                if row.key == PARENT_KEY:
                    self.service.record(incident.id, "slack.thread_posted", None, thread_ts=found, found_by_lookup=True)
                self.refresh(incident.id, row.key)  # it may show an older state than the store
                return "posted"
            assert row.attempted_at is not None
            age = (self.plan.clock() - row.attempted_at).total_seconds()
            if age < self.in_doubt_grace_s:
                log.info(
                    "%s of %s not in Slack yet (%.0f s after the attempt); looking again later",
                    row.key,
                    incident.id,
                    age,
                )
                return "skip"
        msg = self.render(snap, row)
        self.plan.begin_post(incident.id, row.key)
        thread_ts = None if row.key == PARENT_KEY else incident.thread_ts
        try:
            resp = self.post_client.chat_postMessage(
                channel=incident.channel, thread_ts=thread_ts, text=msg.text, blocks=msg.blocks
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", exc))
            if status >= 500:
                log.warning(
                    "posting %s of %s: Slack %s (%s); in doubt until looked up", row.key, incident.id, status, error
                )
                return "stop"
            self.plan.not_posted(incident.id, row.key)  # Slack said no: nothing was posted
            log.error("Slack refused %s of %s: %s", row.key, incident.id, error)
            if row.key == PARENT_KEY and status != 429:
                self._parent_refused(incident, error)
            return "stop"
        except Exception as exc:  # timeout, dropped connection: it may have been posted
            log.warning("posting %s of %s failed (%s); in doubt until looked up", row.key, incident.id, exc)
            return "stop"
        self.plan.posted(incident.id, row.key, str(resp["ts"]), msg.digest())
        if row.key == PARENT_KEY:
            self.service.record(incident.id, "slack.thread_posted", None, thread_ts=str(resp["ts"]))
        return "posted"

    def _after_parent(self, incident: Incident) -> None:
        """The incident notes go up right after the parent, before the sections."""
        if self.after_parent is None:
            return
        try:
            self.after_parent(incident)
        except Exception:  # the checklist matters more than the notes: post it anyway
            log.exception("could not post the notes of %s", incident.id)

    def _find_posted(self, incident: Incident, row: ThreadMessage) -> str | None:
        """The ts of this row's message if Slack has it (parent: channel history; reply: the thread)."""
        wanted = marker(incident.id, row.key)
        if row.key == PARENT_KEY:
            oldest = f"{incident.opened_at.timestamp() - 60:.6f}"
            pages: Iterable[Any] = self.client.conversations_history(
                channel=incident.channel, oldest=oldest, inclusive=True, limit=200
            )
        else:
            assert incident.thread_ts is not None
            pages = self.client.conversations_replies(channel=incident.channel, ts=incident.thread_ts, limit=200)
        return find_marked(pages, wanted)

    def _parent_refused(self, incident: Incident, error: str) -> None:
        """Slack will not take the parent (bot not in the channel, archived, ...): cancel and say why."""
        self.service.cancel(incident.id, SYSTEM_ACTOR, f"could not post to Slack: {error}")
        self.client.chat_postEphemeral(
            channel=incident.channel,
            user=incident.opened_by,
            text=(
                f":x: {incident.id} could not be posted in this channel (Slack said `{error}`), so it was "
                "cancelled. Invite the bot to the channel (`/invite @rollback-bot`) and run `/rollback` again."
            ),
        )

    def _render(self, incident_id: str) -> None:
        """Redraw the incident's collected messages from one snapshot; unchanged ones cost no call."""
        with self._dirty_lock:
            keys = self._dirty.pop(incident_id, set())
        snap = self.service.snapshot(incident_id)
        rows = [m for m in snap.thread.values() if keys is None or m.key in keys]
        if any(m.ts is None for m in rows):
            self.converge(incident_id)  # posted with the latest state when its turn comes
        for row in rows:
            if row.ts is None:
                continue
            msg = self.render(snap, row)
            digest = msg.digest()
            if digest == row.shown_hash:
                continue
            try:
                self.client.chat_update(channel=snap.incident.channel, ts=row.ts, text=msg.text, blocks=msg.blocks)
            except Exception as exc:  # stays stale in the plan; the next reconcile pass retries
                log.warning("could not update %s of %s: %s", row.key, incident_id, exc)
                continue
            self.plan.shown(incident_id, row.key, digest)
