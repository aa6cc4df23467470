"""The Slack side of paging: DMs (``conversations.open`` + ``chat.postMessage``), thread notes,
the channel alert and DM updates. Implements bot.paging.PageSender; no paging rules here."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.domain import Incident, Page, RoleAck
from bot.paging import PageDelivery, PagingNote
from handlers.paging_blocks import channel_alert, page_dm, page_dm_acknowledged, page_dm_closed, paging_note
from handlers.publisher import ThreadPublisher

log = logging.getLogger(__name__)


class SlackPageSender:
    def __init__(
        self,
        client: WebClient,
        publisher: ThreadPublisher,
        ack_timeout_minutes: Callable[[str], float],
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.publisher = publisher
        self.ack_timeout_minutes = ack_timeout_minutes
        self.clock = clock
        self._links: dict[str, str] = {}
        self._links_lock = threading.Lock()

    def permalink(self, incident: Incident) -> str | None:
        """The thread's link (one chat.getPermalink per incident); None if Slack won't say."""
        if incident.thread_ts is None:
            return None
        with self._links_lock:
            if incident.id in self._links:
                return self._links[incident.id]
        try:
            link = str(
                self.client.chat_getPermalink(channel=incident.channel, message_ts=incident.thread_ts)["permalink"]
            )
        except Exception as exc:
            log.warning("no permalink for %s: %s", incident.id, exc)
            return None
        with self._links_lock:
            self._links[incident.id] = link
        return link

    def deliver(self, incident: Incident, page: Page, role_name: str, ack_by: datetime) -> PageDelivery:
        channel = str(self.client.conversations_open(users=page.user_id)["channel"]["id"])
        msg = page_dm(incident, page.role, role_name, page.round, ack_by, self.clock(), self.permalink(incident))
        msg = self.publisher.marked(incident, msg)
        resp = self.client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.blocks)
        return PageDelivery(channel=channel, ts=str(resp["ts"]))

    def note(self, incident: Incident, note: PagingNote) -> None:
        msg = paging_note(incident, note, self.ack_timeout_minutes(incident.severity))
        self.publisher.post_in_thread(incident, msg)

    def alert(self, incident: Incident, note: PagingNote) -> None:
        """One channel-level alert: a thread reply broadcast to the channel, so it is seen in both."""
        if incident.thread_ts is None:
            return
        msg = self.publisher.marked(incident, channel_alert(incident, note, self.permalink(incident)))
        self.client.chat_postMessage(
            channel=incident.channel,
            thread_ts=incident.thread_ts,
            reply_broadcast=True,
            text=msg.text,
            blocks=msg.blocks,
        )

    def acknowledged(self, incident: Incident, page: Page, ack: RoleAck, role_name: str) -> None:
        if not (page.dm_channel and page.dm_ts):
            return
        msg = page_dm_acknowledged(incident, role_name, ack, page.user_id, self.clock(), self.permalink(incident))
        msg = self.publisher.marked(incident, msg)
        self.client.chat_update(channel=page.dm_channel, ts=page.dm_ts, text=msg.text, blocks=msg.blocks)

    def closed(self, incident: Incident, page: Page) -> None:
        if not (page.dm_channel and page.dm_ts):
            return
        msg = self.publisher.marked(incident, page_dm_closed(incident, self.clock(), self.permalink(incident)))
        self.client.chat_update(channel=page.dm_channel, ts=page.dm_ts, text=msg.text, blocks=msg.blocks)

    def refresh(self, incident_id: str, step_id: str | None) -> None:
        if step_id is not None:
            self.publisher.refresh_step(incident_id, step_id)
        else:
            self.publisher.refresh_parent(incident_id)
