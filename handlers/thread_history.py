"""Read an incident thread back from Slack for the record: every page, in order, once.

``conversations.replies`` is cursor-paginated and, for some apps, limited to 15 messages and one
call a minute (docs: the 2025 rate-limit change), so the reader always passes an explicit
``limit``, follows ``response_metadata.next_cursor`` (slack_sdk's ``SlackResponse`` iterator) and
relies on the client's ``RateLimitErrorRetryHandler`` to wait out a 429's ``Retry-After``. Slack
may repeat the parent on every page; messages are de-duplicated by ``ts``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.record.timeline import SlackThreadMessage, ts_sort_key

log = logging.getLogger(__name__)

REPLIES_PAGE_LIMIT = 200


class ThreadUnreadable(Exception):
    """The thread could not be read completely (the message says why, e.g. not_in_channel)."""


def to_thread_message(raw: dict[str, Any]) -> SlackThreadMessage:
    files = [str(f.get("title") or f.get("name") or f.get("id")) for f in raw.get("files") or [] if isinstance(f, dict)]
    reactions = {
        str(r["name"]): [str(u) for u in r.get("users") or []]
        for r in raw.get("reactions") or []
        if isinstance(r, dict) and r.get("name")
    }
    edited = raw.get("edited") or {}
    return SlackThreadMessage(
        ts=str(raw["ts"]),
        user=raw.get("user"),
        bot_id=raw.get("bot_id"),
        subtype=raw.get("subtype"),
        text=str(raw.get("text") or ""),
        edited_ts=edited.get("ts") if isinstance(edited, dict) else None,
        files=files,
        reactions=reactions,
    )


def fetch_thread(
    client: WebClient, channel: str, thread_ts: str, *, limit: int = REPLIES_PAGE_LIMIT
) -> list[SlackThreadMessage]:
    """All messages of the thread (parent first), ordered by ts, each once.

    Raises ThreadUnreadable when any page fails after the client's retries: a partial thread
    would silently drop what people said, so the caller records the reason instead.
    """
    seen: dict[str, SlackThreadMessage] = {}
    pages = 0
    try:
        for page in client.conversations_replies(channel=channel, ts=thread_ts, limit=limit):
            pages += 1
            for raw in page.get("messages") or []:
                msg = to_thread_message(raw)
                seen.setdefault(msg.ts, msg)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        status = exc.response.status_code if exc.response is not None else "?"
        raise ThreadUnreadable(f"conversations.replies failed after {pages} page(s): {error or status}") from exc
    log.info("read thread %s/%s: %d messages in %d page(s)", channel, thread_ts, len(seen), pages)
    return sorted(seen.values(), key=lambda m: ts_sort_key(m.ts))


class UserNames:
    """Display names for user ids (``users.info``), cached for the process; falls back to the id."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def name(self, user_id: str) -> str:
        with self._lock:
            if user_id in self._cache:
                return self._cache[user_id]
        try:
            user = self.client.users_info(user=user_id)["user"] or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
        except SlackApiError as exc:
            log.info("no name for %s: %s", user_id, exc.response.get("error") if exc.response is not None else exc)
            name = None
        with self._lock:
            self._cache[user_id] = str(name or user_id)
            return self._cache[user_id]

    def names(self, user_ids: set[str]) -> dict[str, str]:
        return {u: self.name(u) for u in sorted(user_ids) if u and u.startswith(("U", "W"))}
