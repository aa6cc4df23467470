"""The message shape every builder returns and the publisher sends."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SlackMessage(BaseModel):
    """What chat.postMessage / chat.update take: fallback text plus blocks."""

    text: str
    blocks: list[dict[str, Any]]


def marker(incident_id: str, key: str) -> str:
    """The block_id that identifies a message when its ts was lost (Slack keeps block ids)."""
    return f"rb|{incident_id}|{key}"[:255]
