"""pins, reactions and files v2: the extras a thread gets after it is posted."""

from __future__ import annotations

import re
from typing import Any

from sandbox.fake_slack.api_chat import post
from sandbox.fake_slack.models import FileUpload
from sandbox.fake_slack.registry import MethodArgs, SlackError, method
from sandbox.fake_slack.state import Workspace

EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+$")


@method("pins.add")
def pins_add(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("timestamp", "no_item_specified"))
        pinned = ws.pins.setdefault(chan.id, [])
        if msg.ts in pinned:
            raise SlackError("already_pinned")
        pinned.append(msg.ts)
        return {}


@method("reactions.add")
def reactions_add(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("timestamp", "no_item_specified"))
        name = args.req("name", "invalid_name").strip(":")
        if not EMOJI_NAME.match(name):
            raise SlackError("invalid_name")
        users = ws.reactions.setdefault((chan.id, msg.ts), {}).setdefault(name, [])
        if ws.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(ws.bot_user_id)
        return {}


@method("reactions.get")
def reactions_get(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        chan = ws.channel(args.req("channel", "channel_not_found"))
        msg = ws.message(chan.id, args.req("timestamp", "no_item_specified"))
        found = ws.reactions.get((chan.id, msg.ts), {})
        api = msg.to_api()
        api["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in found.items()]
        return {"type": "message", "channel": chan.id, "message": api}


@method("files.getUploadURLExternal")
def files_get_upload_url(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        filename = args.req("filename", "invalid_arguments")
        length = args.int("length", -1)
        if length < 0:
            raise SlackError("invalid_arguments", detail="length is required")
        file_id = ws.new_id("F")
        ws.files[file_id] = FileUpload(id=file_id, filename=filename, length=length)
        return {"upload_url": f"{ws.root_url}/upload/{file_id}", "file_id": file_id}


def receive_upload(ws: Workspace, file_id: str, data: bytes) -> int:
    """The raw POST to upload_url; returns the HTTP status (Slack answers 200 "OK - <length>")."""
    with ws.lock:
        upload = ws.files.get(file_id)
        if upload is None or upload.completed:
            return 404
        upload.content = data
        return 200


@method("files.completeUploadExternal")
def files_complete_upload(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        entries = args.json("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments", detail="files must be a non-empty list")
        uploads: list[FileUpload] = []
        for entry in entries:
            upload = ws.files.get(str(entry.get("id")))
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            upload.title = entry.get("title") or upload.filename
            upload.permalink = (
                f"https://{ws.team_domain}.slack.com/files/{ws.bot_user_id}/{upload.id}/{upload.filename}"
            )
            uploads.append(upload)
        channel = args.opt("channel_id") or (args.opt("channels") or "").split(",")[0] or None
        channel_id = ws.channel(channel).id if channel else None
        thread_ts = args.opt("thread_ts")
        comment = args.opt("initial_comment")
        if channel_id:
            shared = [u.to_api() for u in uploads]
            post(ws, channel_id, text=comment or "", thread_ts=thread_ts, files=shared, subtype="file_share")
        for upload in uploads:
            upload.completed = True
            upload.channel, upload.thread_ts, upload.initial_comment = channel_id, thread_ts, comment
        return {"files": [u.to_api() for u in uploads]}
