"""Plain-text rendering of a thread, so the demo can show what a human would see in Slack."""

from __future__ import annotations

import time
from typing import Any

from sandbox.fake_slack.blocks import block_elements, element_options, plain
from sandbox.fake_slack.models import Message
from sandbox.fake_slack.state import Workspace


def render_thread(ws: Workspace, channel: str, ts: str) -> str:
    with ws.lock:
        thread = ws.thread(channel, ts)
        chan = ws.channels.get(channel)
        lines = [f"=== #{chan.name if chan else channel} thread {thread[0].ts} ==="]
        for index, msg in enumerate(thread):
            lines.extend(render_message(ws, msg, indent="" if index == 0 else "    "))
        return "\n".join(lines)


def render_message(ws: Workspace, msg: Message, indent: str = "") -> list[str]:
    author = "rollback-bot" if msg.bot_id else (ws.users[msg.user].name if msg.user in ws.users else msg.user)
    clock = time.strftime("%H:%M:%S", time.localtime(float(msg.ts)))
    notes = []
    if msg.edit_count:
        notes.append(f"edited x{msg.edit_count}")
    if msg.reply_count:
        notes.append(f"{msg.reply_count} replies")
    for name, users in ws.reactions.get((msg.channel, msg.ts), {}).items():
        notes.append(f":{name}: {len(users)}")
    if msg.ts in ws.pins.get(msg.channel, []):
        notes.append("pinned")
    head = f"{indent}{author} [{clock}]" + (f" ({', '.join(notes)})" if notes else "")
    body = [line for block in msg.blocks for line in render_block(block)] if msg.blocks else msg.text.splitlines()
    body += [f"(file) {f.get('name')} - {f.get('title')}" for f in msg.files]
    return [head, *(f"{indent}  {line}" for line in body)]


def render_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind == "header":
        lines.append(f"# {plain(block.get('text'))}")
    elif kind == "divider":
        lines.append("-" * 40)
    elif kind in ("section", "input"):
        label = plain(block.get("text") or block.get("label"))
        lines.extend(label.splitlines())
        lines.extend(" | ".join(plain(f) for f in block.get("fields") or []).splitlines())
    elif kind == "context":
        lines.append("~ " + "  ".join(plain(e) or e.get("alt_text", "") for e in block.get("elements") or []))
    elif kind == "rich_text":
        lines.append("(rich text)")
    controls = [render_control(element) for element, _ in block_elements(block)]
    if controls:
        lines.append(" ".join(controls))
    return lines


def render_control(element: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{plain(element.get('text'))}]"
    if kind == "overflow":
        return "[... " + " / ".join(plain(o.get("text")) for o in element_options(element)) + "]"
    chosen = element.get("initial_option")
    label = plain(chosen.get("text")) if isinstance(chosen, dict) else plain(element.get("placeholder"))
    return f"[{label or kind} v]"
