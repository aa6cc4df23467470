"""Every message of a drill says DRILL, so nobody mistakes a rehearsal for an outage (or the reverse).

The word goes into the fallback text (notifications, screen readers) and into the first block a
person reads (the header, or the first section's text), within Slack's limits; a message without
such a block gets a context line in front if there is room.
"""

from __future__ import annotations

import copy
from typing import Any

from handlers.limits import MAX_BLOCKS, MAX_HEADER, MAX_TEXT
from handlers.message import SlackMessage

DRILL = ":test_tube: DRILL"


def _prefixed(text: str, prefix: str, limit: int) -> str:
    out = f"{prefix} · {text}"
    return out if len(out) <= limit else out[: limit - 1] + "…"


def mark_text(text: str) -> str:
    return text if text.startswith(DRILL) else f"{DRILL} · {text}"


def mark_drill(msg: SlackMessage) -> SlackMessage:
    """The same message with DRILL in its text and in the first block a person reads."""
    if msg.text.startswith(DRILL):
        return msg
    blocks: list[dict[str, Any]] = copy.deepcopy(msg.blocks)
    for block in blocks:
        kind, text = block.get("type"), block.get("text")
        if kind == "header" and isinstance(text, dict):
            text["text"] = _prefixed(str(text.get("text", "")), "🧪 DRILL", MAX_HEADER)
            break
        if kind == "section" and isinstance(text, dict) and text.get("type") == "mrkdwn":
            text["text"] = _prefixed(str(text.get("text", "")), f"*{DRILL}*", MAX_TEXT)
            break
    else:
        if blocks and len(blocks) < MAX_BLOCKS:
            blocks.insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{DRILL}*"}]})
    return SlackMessage(text=mark_text(msg.text), blocks=blocks)
