"""Slack I/O for incident threads: the thread converges on the store's thread plan.

Listeners and the job runner only *ask* (``open_thread``, ``refresh_*``, ``reply``, ``show_job``,
``ephemeral``); the asks go to a :class:`~handlers.publish_queue.PublishQueue`, never to Slack on the
caller's thread, so an ack never waits on a rate-limited Web API. Work renders from the store when it
runs, so repeated edits of one message collapse into its latest state.

Posting is resumable and never doubles (see bot/thread_plan.py): the attempt is recorded before the
post; a post Slack answered with an error is cleared; one that timed out or died stays *in doubt* and
is looked up in the channel (parent) or the thread (replies) by the marker every message carries as
its first ``block_id`` (``rb|<incident>|<key>``) before it is ever posted again. A slow Slack may
store a post after the client gave up on it, so "not found" only counts once the attempt is older
than ``in_doubt_grace_s``; until then the message waits for the next pass. A render whose hash
equals what Slack last accepted is skipped, so :meth:`reconcile` is cheap to run often.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.incidents import Incident, IncidentService
from bot.runbook import Runbook
from bot.thread_plan import PARENT_KEY, MessageKind, ThreadMessage, ThreadPlan, job_key, offer_key, section_key
from handlers.blocks import fallback_offer, incident_parent, section_message
from handlers.message import SlackMessage
from handlers.publish_queue import PublishQueue
from handlers.steps import SectionContext

log = logging.getLogger(__name__)

Renderer = Callable[[Incident, ThreadMessage], SlackMessage]
SYSTEM_ACTOR = "rollback-bot"
# Longer than any request Slack still completes after a client timeout (the client's own is 15 s).
IN_DOUBT_GRACE_S = 60.0


def marker(incident_id: str, key: str) -> str:
    """The block_id that identifies a message when its ts was lost (Slack keeps block ids)."""
    return f"rb|{incident_id}|{key}"[:255]


def render_hash(msg: SlackMessage) -> str:
    return hashlib.sha256(json.dumps([msg.text, msg.blocks], sort_keys=True).encode()).hexdigest()


class ThreadPublisher:
    def __init__(
        self,
        client: WebClient,
        service: IncidentService,
        plan: ThreadPlan,
        runbook: Runbook,
        context_for: Callable[[str], SectionContext],
        *,
        post_client: WebClient | None = None,
        queue: PublishQueue | None = None,
        in_doubt_grace_s: float = IN_DOUBT_GRACE_S,
    ) -> None:
        self.client = client
        # Posts go through a client that retries only what Slack answered with 429: a retried post
        # after a dropped connection could be a second copy. In-doubt posts are looked up instead.
        self.post_client = post_client or client
        self.service = service
        self.plan = plan
        self.runbook = runbook
        self.context_for = context_for
        self.queue = queue or PublishQueue()
        self.in_doubt_grace_s = in_doubt_grace_s
        self._ephemerals = itertools.count()
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

    def refresh(self, incident_id: str, key: str) -> None:
        self.queue.submit(("render", incident_id, key), lambda: self._render(incident_id, key))

    def refresh_section(self, incident_id: str, section_id: str) -> None:
        self.refresh(incident_id, section_key(section_id))

    def refresh_parent(self, incident_id: str) -> None:
        self.refresh(incident_id, PARENT_KEY)

    def refresh_step(self, incident_id: str, step_id: str) -> None:
        self.refresh_section(incident_id, self.runbook.section_of(step_id).id)
        self.refresh_parent(incident_id)

    def refresh_options(self, incident_id: str) -> None:
        for section in self.runbook.sections:
            if section.option is not None:
                self.refresh_section(incident_id, section.id)

    def refresh_all(self, incident_id: str) -> None:
        self.refresh_parent(incident_id)
        for section in self.runbook.sections:
            self.refresh_section(incident_id, section.id)

    def show_job(self, incident_id: str, request_id: str) -> None:
        """The job's message: posted the first time, re-rendered (running -> result) after."""
        if self.plan.want(incident_id, job_key(request_id), "job"):
            self.converge(incident_id)
        else:
            self.refresh(incident_id, job_key(request_id))

    def offer(self, incident_id: str, after_request_id: str, body: dict[str, Any]) -> None:
        if self.plan.want(incident_id, offer_key(after_request_id), "offer", body):
            self.converge(incident_id)

    def reply(self, incident: Incident, text: str) -> None:
        """A text reply in the thread (bot-made mrkdwn: escape anything a person typed first)."""
        self.plan.want_note(incident.id, text)
        self.converge(incident.id)

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        def send() -> None:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)

        self.queue.submit(("ephemeral", next(self._ephemerals)), send)

    def reconcile(self, incident_ids: Iterable[str]) -> None:
        """Post what is missing and re-render everything posted (unchanged renders cost nothing)."""
        for incident_id in incident_ids:
            self.converge(incident_id)
            for row in self.plan.messages(incident_id):
                if row.ts is not None:
                    self.refresh(incident_id, row.key)

    # -- rendering ----------------------------------------------------------------------------------
    def render(self, incident: Incident, row: ThreadMessage) -> SlackMessage:
        msg = self._renderers[row.kind](incident, row)
        blocks = [dict(b) for b in msg.blocks]
        if blocks and not blocks[0].get("block_id"):
            blocks[0]["block_id"] = marker(incident.id, row.key)
        else:
            log.warning("message %s of %s has no free first block_id for its marker", row.key, incident.id)
        return SlackMessage(text=msg.text, blocks=blocks)

    def _render_parent(self, incident: Incident, row: ThreadMessage) -> SlackMessage:
        steps = self.service.steps(incident.id)
        done = sum(1 for s in steps.values() if s.state in ("done", "skipped"))
        return incident_parent(incident, done=done, total=len(steps), agent_url=self.context_for(incident.id).agent_url)

    def _render_section(self, incident: Incident, row: ThreadMessage) -> SlackMessage:
        section = self.runbook.section(row.ref)
        return section_message(incident, section, self.service.steps(incident.id), self.context_for(incident.id))

    def _render_offer(self, incident: Incident, row: ThreadMessage) -> SlackMessage:
        body = row.body or {}
        return fallback_offer(
            incident,
            self.runbook.option(int(body["option"])),
            str(body.get("operation", "")),
            str(body.get("reason", "")),
            list(body.get("backups") or []),
        )

    def _render_note(self, incident: Incident, row: ThreadMessage) -> SlackMessage:
        text = str((row.body or {}).get("text", ""))
        return SlackMessage(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])

    # -- the work the queue runs --------------------------------------------------------------------
    def _post_missing(self, incident_id: str) -> None:
        incident = self.service.get(incident_id)
        if incident.thread_ts is None and not incident.is_open:
            return  # closed before Slack ever had it (e.g. Slack refused the parent): no thread to start
        for row in self.plan.unposted(incident_id):
            if row.key != PARENT_KEY and incident.thread_ts is None:
                return  # replies wait for the parent
            if not self._post_one(incident, row):
                return  # the rest wait: order matters, and the reconciler comes back
            incident = self.service.get(incident_id)

    def _post_one(self, incident: Incident, row: ThreadMessage) -> bool:
        if row.in_doubt:
            try:
                found = self._find_posted(incident, row)
            except Exception as exc:  # can't tell whether it is there: never risk a second copy
                log.warning("could not look up %s of %s (%s); trying again later", row.key, incident.id, exc)
                return False
            if found is not None:
                log.info("found %s of %s already in Slack (%s)", row.key, incident.id, found)
                self.plan.posted(incident.id, row.key, found)
                if row.key == PARENT_KEY:
                    self.service.record(incident.id, "slack.thread_posted", None, thread_ts=found, found_by_lookup=True)
                self.refresh(incident.id, row.key)  # it may show an older state than the store
                return True
            assert row.attempted_at is not None
            age = (self.plan.clock() - row.attempted_at).total_seconds()
            if age < self.in_doubt_grace_s:
                log.info(
                    "%s of %s not in Slack yet (%.0f s after the attempt); looking again later",
                    row.key,
                    incident.id,
                    age,
                )
                return False
        msg = self.render(incident, row)
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
                return False
            self.plan.not_posted(incident.id, row.key)  # Slack said no: nothing was posted
            log.error("Slack refused %s of %s: %s", row.key, incident.id, error)
            if row.key == PARENT_KEY and status != 429:
                self._parent_refused(incident, error)
            return False
        except Exception as exc:  # timeout, dropped connection: it may have been posted
            log.warning("posting %s of %s failed (%s); in doubt until looked up", row.key, incident.id, exc)
            return False
        self.plan.posted(incident.id, row.key, str(resp["ts"]), render_hash(msg))
        if row.key == PARENT_KEY:
            self.service.record(incident.id, "slack.thread_posted", None, thread_ts=str(resp["ts"]))
        return True

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
        for page in pages:
            for message in page.get("messages", []):
                blocks = message.get("blocks") or []
                if blocks and blocks[0].get("block_id") == wanted:
                    return str(message["ts"])
        return None

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

    def _render(self, incident_id: str, key: str) -> None:
        row = self.plan.get(incident_id, key)
        if row is None:
            return
        if row.ts is None:
            self.converge(incident_id)  # posted with the latest state when its turn comes
            return
        incident = self.service.get(incident_id)
        msg = self.render(incident, row)
        digest = render_hash(msg)
        if digest == row.shown_hash:
            return
        try:
            self.client.chat_update(channel=incident.channel, ts=row.ts, text=msg.text, blocks=msg.blocks)
        except Exception as exc:  # stays stale in the plan; the next reconcile pass retries
            log.warning("could not update %s of %s: %s", key, incident_id, exc)
            return
        self.plan.shown(incident_id, key, digest)
