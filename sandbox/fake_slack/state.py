"""The in-memory workspace: everything the fake knows, guarded by one lock.

Handlers take `ws.lock` for the whole call, so a method sees and leaves a consistent state even when
the bot fires requests from several threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from sandbox.fake_slack.models import (
    Channel,
    Ephemeral,
    FileUpload,
    Message,
    ResponsePost,
    User,
    Usergroup,
    View,
)
from sandbox.fake_slack.registry import SlackError


@dataclass
class ResponseUrl:
    """A response_url Slack handed out: tied to a channel/user and optionally to the source message."""

    id: str
    channel: str | None
    user: str | None
    message_ts: str | None
    is_ephemeral: bool
    created: float
    uses: int = 0


@dataclass
class RepliesRegime:
    """conversations.replies limits: Tier 3 (default) or the 2025 non-Marketplace 15-item, 1/min regime."""

    default_limit: int = 1000
    max_limit: int = 1000
    min_interval_s: float = 0.0
    parent_on_every_page: bool = False
    last_call: float | None = None


@dataclass
class Workspace:
    team_id: str
    team_domain: str
    bot_user_id: str
    bot_id: str
    bot_token: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, Usergroup] = field(default_factory=dict)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    pins: dict[str, list[str]] = field(default_factory=dict)
    reactions: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    files: dict[str, FileUpload] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    responses: list[ResponsePost] = field(default_factory=list)
    triggers: dict[str, float] = field(default_factory=dict)
    strict_triggers: bool = False
    replies: RepliesRegime = field(default_factory=RepliesRegime)
    root_url: str = ""
    _last_ts_us: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_ts(self) -> str:
        """A unique, strictly increasing message ts in Slack's "seconds.micros" form."""
        with self.lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """Slack-looking ids (F…, V…, response ids) that are unique within this fake."""
        return f"{prefix}{next(self._ids):08d}"

    def channel(self, ref: str) -> Channel:
        """Resolve a channel id, a "#name"/"name", a user id (the app DM) or raise channel_not_found."""
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:
            return self.open_dm(ref)
        name = ref.removeprefix("#")
        for chan in self.channels.values():
            if chan.name == name and not chan.is_im:
                return chan
        raise SlackError("channel_not_found")

    def open_dm(self, user_id: str) -> Channel:
        if user_id not in self.users:
            raise SlackError("user_not_found")
        dm_id = "D" + user_id.removeprefix("U").removeprefix("W")
        if dm_id not in self.channels:
            self.channels[dm_id] = Channel(id=dm_id, name=user_id, members=[self.bot_user_id, user_id], is_im=True)
        return self.channels[dm_id]

    def message(self, channel: str, ts: str) -> Message:
        msg = self.messages.get((channel, ts))
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def require_member(self, chan: Channel) -> None:
        """Reading history needs membership; chat:write.public covers posting but not reading."""
        if self.bot_user_id not in chan.members:
            raise SlackError("not_in_channel")

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Parent first, then replies in ts order; `ts` may be the parent or any reply."""
        msg = self.message(channel, ts)
        root = msg.thread_ts or msg.ts
        parent = self.message(channel, root)
        replies = [m for (c, _), m in self.messages.items() if c == channel and m.thread_ts == root and m.ts != root]
        return [parent, *sorted(replies, key=lambda m: ts_key(m.ts))]

    def top_level(self, channel: str) -> list[Message]:
        msgs = [
            m
            for (c, _), m in self.messages.items()
            if c == channel and (not m.is_reply or m.subtype == "thread_broadcast")
        ]
        return sorted(msgs, key=lambda m: ts_key(m.ts))


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for ts strings; string order breaks once seconds gain a digit."""
    secs, _, micros = ts.partition(".")
    return int(secs), int(micros or 0)
