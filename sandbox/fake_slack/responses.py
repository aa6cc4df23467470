"""response_url handling: issue URLs and apply POSTs the way Slack does (5 uses, 30 minutes)."""

from __future__ import annotations

import time
from typing import Any

from sandbox.fake_slack.api_chat import post, post_ephemeral
from sandbox.fake_slack.blocks import normalize_blocks
from sandbox.fake_slack.models import MessageVersion, ResponsePost
from sandbox.fake_slack.registry import SlackError
from sandbox.fake_slack.state import ResponseUrl, Workspace

MAX_USES = 5
TTL_S = 30 * 60


def issue(
    ws: Workspace,
    *,
    channel: str | None,
    user: str | None,
    message_ts: str | None = None,
    is_ephemeral: bool = False,
) -> str:
    with ws.lock:
        url_id = ws.new_id("R")
        ws.response_urls[url_id] = ResponseUrl(
            id=url_id,
            channel=channel,
            user=user,
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
            created=time.monotonic(),
        )
        return f"{ws.root_url}/response/{url_id}"


def apply(ws: Workspace, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
    """Apply one POST; returns (HTTP status, effect or error) and records it for `fake.responses()`."""
    with ws.lock:
        status, effect = 200, ""
        try:
            effect = _apply(ws, url_id, body)
        except SlackError as exc:
            status, effect = 404, exc.error
        ws.responses.append(ResponsePost(url_id=url_id, body=body, status=status, effect=effect))
        return status, effect


def _apply(ws: Workspace, url_id: str, body: dict[str, Any]) -> str:
    ref = ws.response_urls.get(url_id)
    if ref is None:
        raise SlackError("no_active_hooks")
    if time.monotonic() - ref.created > TTL_S:
        raise SlackError("expired_url")
    if ref.uses >= MAX_USES:
        raise SlackError("used_url")
    ref.uses += 1
    if not ref.channel:
        return "recorded"
    text = str(body.get("text") or "")
    blocks = body.get("blocks")
    if body.get("delete_original") and ref.message_ts:
        return _delete(ws, ref)
    if body.get("replace_original") and ref.message_ts:
        return _replace(ws, ref, text, blocks)
    thread_ts = body.get("thread_ts")
    if body.get("response_type") == "in_channel":
        msg = post(ws, ref.channel, text=text, blocks=blocks, thread_ts=thread_ts)
        return f"in_channel:{msg.ts}"
    eph = post_ephemeral(
        ws, ref.channel, ref.user or "", text=text, blocks=blocks, thread_ts=thread_ts, source="response_url"
    )
    return f"ephemeral:{eph.message_ts}"


def _delete(ws: Workspace, ref: ResponseUrl) -> str:
    assert ref.channel and ref.message_ts
    if ref.is_ephemeral:
        for eph in ws.ephemerals:
            if eph.message_ts == ref.message_ts:
                eph.deleted = True
    else:
        ws.messages.pop((ref.channel, ref.message_ts), None)
    return f"deleted:{ref.message_ts}"


def _replace(ws: Workspace, ref: ResponseUrl, text: str, blocks: Any) -> str:
    assert ref.channel and ref.message_ts
    new_blocks = normalize_blocks(blocks, salt=f"{ref.message_ts}:r{ref.uses}")
    if ref.is_ephemeral:
        for eph in ws.ephemerals:
            if eph.message_ts == ref.message_ts:
                eph.text, eph.blocks, eph.edit_count = text, new_blocks, eph.edit_count + 1
        return f"replaced_ephemeral:{ref.message_ts}"
    msg = ws.message(ref.channel, ref.message_ts)
    msg.history.append(MessageVersion(text=msg.text, blocks=msg.blocks))
    msg.text, msg.blocks, msg.edit_count = text, new_blocks, msg.edit_count + 1
    return f"replaced:{ref.message_ts}"
