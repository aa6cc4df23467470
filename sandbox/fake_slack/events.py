"""What a person does in a thread (write, edit, delete, react), applied to the fake workspace.

Each function changes the workspace the way Slack does and returns the Events API ``event``
object Slack would deliver to the app for it, so a test can dispatch exactly that (see
``sandbox.slack_user.build_event``).
"""

from __future__ import annotations

from typing import Any

from sandbox.fake_slack.api_chat import post
from sandbox.fake_slack.models import Message, MessageVersion
from sandbox.fake_slack.registry import SlackError
from sandbox.fake_slack.state import Workspace


def _message_event(msg: Message) -> dict[str, Any]:
    out = msg.to_api()
    out.update({"channel": msg.channel, "event_ts": msg.ts, "channel_type": "channel"})
    return out


def write(
    ws: Workspace, channel: str, user: str, text: str, *, thread_ts: str, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    msg = post(
        ws, channel, text=text, thread_ts=thread_ts, user=user, files=files, subtype="file_share" if files else None
    )
    return _message_event(msg)


def edit(ws: Workspace, channel: str, ts: str, text: str) -> dict[str, Any]:
    """A person edits their own message: ``message_changed`` with the new and the previous message."""
    with ws.lock:
        msg = ws.message(ws.channel(channel).id, ts)
        if msg.bot_id is not None:
            raise SlackError("cant_update_message")
        previous = msg.to_api()
        msg.history.append(MessageVersion(text=msg.text, blocks=msg.blocks))
        msg.text = text
        msg.edit_count += 1
        msg.edited_ts = ws.next_ts()
        event_ts = msg.edited_ts
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": msg.channel,
            "ts": event_ts,
            "event_ts": event_ts,
            "message": msg.to_api(),
            "previous_message": previous,
            "channel_type": "channel",
        }


def delete(ws: Workspace, channel: str, ts: str) -> dict[str, Any]:
    """A person deletes their message: gone from history, ``message_deleted`` to the app."""
    with ws.lock:
        chan = ws.channel(channel)
        msg = ws.message(chan.id, ts)
        previous = msg.to_api()
        del ws.messages[(chan.id, ts)]
        if msg.thread_ts and msg.thread_ts != ts and (chan.id, msg.thread_ts) in ws.messages:
            ws.messages[(chan.id, msg.thread_ts)].reply_count -= 1
        event_ts = ws.next_ts()
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": chan.id,
            "ts": event_ts,
            "deleted_ts": ts,
            "event_ts": event_ts,
            "previous_message": previous,
            "channel_type": "channel",
        }


def react(ws: Workspace, channel: str, ts: str, user: str, name: str, *, added: bool = True) -> dict[str, Any]:
    """A person adds (or removes) a reaction: ``reaction_added`` / ``reaction_removed`` to the app."""
    with ws.lock:
        chan = ws.channel(channel)
        msg = ws.message(chan.id, ts)
        by_name = ws.reactions.setdefault((chan.id, ts), {})
        users = by_name.setdefault(name, [])
        if added:
            if user in users:
                raise SlackError("already_reacted")
            users.append(user)
        else:
            if user not in users:
                raise SlackError("no_reaction")
            users.remove(user)
            if not users:
                del by_name[name]
        return {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": msg.user,
            "item": {"type": "message", "channel": chan.id, "ts": ts},
            "event_ts": ws.next_ts(),
        }
