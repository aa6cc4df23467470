"""chat.* methods and the posting primitive reused by response_url and file shares."""

from __future__ import annotations

from typing import Any

from sandbox.fake_slack.blocks import normalize_blocks
from sandbox.fake_slack.models import Ephemeral, Message, MessageVersion
from sandbox.fake_slack.registry import MethodArgs, SlackError, method
from sandbox.fake_slack.state import Workspace


def post(
    ws: Workspace,
    channel: str,
    *,
    text: str = "",
    blocks: Any = None,
    thread_ts: str | None = None,
    broadcast: bool = False,
    user: str | None = None,
    files: list[dict[str, Any]] | None = None,
    subtype: str | None = None,
) -> Message:
    """Store a message (as the bot unless `user` is given) and maintain the parent's thread fields."""
    with ws.lock:
        chan = ws.channel(channel)
        ts = ws.next_ts()
        root: str | None = None
        if thread_ts:
            parent = ws.messages.get((chan.id, thread_ts))
            if parent is None:
                raise SlackError("thread_not_found")
            root = parent.thread_ts or parent.ts
        author = user or ws.bot_user_id
        msg = Message(
            ts=ts,
            channel=chan.id,
            user=author,
            bot_id=ws.bot_id if user is None else None,
            text=text,
            blocks=normalize_blocks(blocks, salt=ts),
            thread_ts=root,
            subtype=subtype or ("thread_broadcast" if root and broadcast else None),
            files=files or [],
        )
        if root:
            parent = ws.messages[(chan.id, root)]
            parent.thread_ts = root
            parent.reply_count += 1
            parent.latest_reply = ts
            if author not in parent.reply_users:
                parent.reply_users.append(author)
        ws.messages[(chan.id, ts)] = msg
        return msg


def require_content(args: MethodArgs) -> None:
    if not (args.opt("text") or args.json("blocks") or args.json("attachments")):
        raise SlackError("no_text")


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    require_content(args)
    msg = post(
        ws,
        args.req("channel", "channel_not_found"),
        text=args.opt("text") or "",
        blocks=args.json("blocks"),
        thread_ts=args.opt("thread_ts"),
        broadcast=args.flag("reply_broadcast"),
    )
    return {"channel": msg.channel, "ts": msg.ts, "message": msg.to_api()}


@method("chat.update")
def chat_update(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("ts", "message_not_found"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_update_message")
        require_content(args)
        msg.history.append(MessageVersion(text=msg.text, blocks=msg.blocks))
        if args.opt("text") is not None:
            msg.text = args.opt("text") or ""
        if args.json("blocks") is not None:
            msg.blocks = normalize_blocks(args.json("blocks"), salt=f"{msg.ts}:{msg.edit_count + 1}")
        msg.edit_count += 1
        return {"channel": chan.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}


@method("chat.delete")
def chat_delete(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("ts", "message_not_found"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_delete_message")
        del ws.messages[(chan.id, msg.ts)]
        return {"channel": chan.id, "ts": msg.ts}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("message_ts", "message_not_found"))
        link = f"https://{ws.team_domain}.slack.com/archives/{chan.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={chan.id}"
        return {"channel": chan.id, "permalink": link}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    require_content(args)
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        user = args.req("user", "user_not_found")
        if user not in ws.users:
            raise SlackError("user_not_found")
        if user not in chan.members:
            raise SlackError("user_not_in_channel")
        ephemeral = post_ephemeral(
            ws,
            chan.id,
            user,
            text=args.opt("text") or "",
            blocks=args.json("blocks"),
            thread_ts=args.opt("thread_ts"),
        )
        return {"message_ts": ephemeral.message_ts}


def post_ephemeral(
    ws: Workspace,
    channel: str,
    user: str,
    *,
    text: str,
    blocks: Any,
    thread_ts: str | None,
    source: str = "chat.postEphemeral",
) -> Ephemeral:
    with ws.lock:
        ts = ws.next_ts()
        ephemeral = Ephemeral(
            message_ts=ts,
            channel=channel,
            user=user,
            text=text,
            blocks=normalize_blocks(blocks, salt=ts),
            thread_ts=thread_ts,
            source=source,
        )
        ws.ephemerals.append(ephemeral)
        return ephemeral
