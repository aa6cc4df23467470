"""conversations.*, users.*, usergroups.* and auth.test: the read side of the workspace."""

from __future__ import annotations

import base64
import math
import time
from typing import Any

from sandbox.fake_slack.models import Message
from sandbox.fake_slack.registry import MethodArgs, RateLimited, SlackError, method
from sandbox.fake_slack.state import Workspace, ts_key


@method("auth.test")
def auth_test(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": "rollback-bot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError as exc:
        raise SlackError("invalid_cursor") from exc
    if not raw.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return raw.removeprefix("next_ts:")


def check_history_rate(ws: Workspace) -> None:
    """The non-Marketplace regime allows one history/replies call per window; Slack answers 429."""
    regime = ws.replies
    now = time.monotonic()
    if regime.min_interval_s and regime.last_call is not None:
        wait = regime.last_call + regime.min_interval_s - now
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)))
    regime.last_call = now


def page(items: list[Message], args: MethodArgs, ws: Workspace) -> tuple[int, int]:
    """(start, limit) for this request from `cursor` and the regime-capped `limit`."""
    limit = max(1, min(args.int("limit", ws.replies.default_limit), ws.replies.max_limit))
    cursor = args.opt("cursor")
    if cursor is None:
        return 0, limit
    next_ts = decode_cursor(cursor)
    for index, msg in enumerate(items):
        if msg.ts == next_ts:
            return index, limit
    raise SlackError("invalid_cursor")


def with_reactions(ws: Workspace, msg: Message) -> dict[str, Any]:
    """The message as history returns it, with its reactions (name, users, count) like Slack."""
    out = msg.to_api()
    found = ws.reactions.get((msg.channel, msg.ts))
    if found:
        out["reactions"] = [{"name": n, "users": list(u), "count": len(u)} for n, u in found.items() if u]
    return out


def paged(ws: Workspace, items: list[Message], start: int, limit: int, prefix: list[Message]) -> dict[str, Any]:
    chunk = items[start : start + limit]
    has_more = start + limit < len(items)
    return {
        "messages": [with_reactions(ws, m) for m in prefix + chunk],
        "has_more": has_more,
        "response_metadata": {"next_cursor": encode_cursor(items[start + limit].ts) if has_more else ""},
    }


def in_window(msg: Message, args: MethodArgs) -> bool:
    oldest, latest = args.opt("oldest"), args.opt("latest")
    inclusive = args.flag("inclusive")
    key = ts_key(msg.ts)
    if oldest and (key < ts_key(oldest) or (key == ts_key(oldest) and not inclusive)):
        return False
    return not (latest and (key > ts_key(latest) or (key == ts_key(latest) and not inclusive)))


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        ws.require_member(chan)
        check_history_rate(ws)
        ts = args.req("ts", "thread_not_found")
        if (chan.id, ts) not in ws.messages:
            raise SlackError("thread_not_found")
        parent, *replies = ws.thread(chan.id, ts)
        items = [parent, *[m for m in replies if in_window(m, args)]]
        start, limit = page(items, args, ws)
        prefix = [parent] if start > 0 and ws.replies.parent_on_every_page else []
        return paged(ws, items, start, limit, prefix)


@method("conversations.history")
def conversations_history(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        ws.require_member(chan)
        check_history_rate(ws)
        items = [m for m in reversed(ws.top_level(chan.id)) if in_window(m, args)]
        start, limit = page(items, args, ws)
        return paged(ws, items, start, limit, [])


@method("conversations.open")
def conversations_open(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        users = [u for u in (args.opt("users") or "").split(",") if u and u != ws.bot_user_id]
        if len(users) != 1:
            raise SlackError("users_list_not_supplied" if not users else "not_supported")
        chan = ws.open_dm(users[0])
        return {"channel": {"id": chan.id}, "already_open": False}


@method("conversations.join")
def conversations_join(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        if chan.is_im or chan.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if ws.bot_user_id not in chan.members:
            chan.members.append(ws.bot_user_id)
        return {"channel": chan.to_api(ws.bot_user_id)}


@method("conversations.info")
def conversations_info(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        return {"channel": chan.to_api(ws.bot_user_id)}


@method("conversations.members")
def conversations_members(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        return {"members": list(chan.members), "response_metadata": {"next_cursor": ""}}


@method("users.info")
def users_info(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        user = ws.users.get(args.req("user", "user_not_found"))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user.to_api(ws.team_id)}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        group = ws.usergroups.get(args.req("usergroup", "no_such_subteam"))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.users)}
