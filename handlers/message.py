"""The message shape every builder returns and the publisher sends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


class SlackMessage(BaseModel):
    """What chat.postMessage / chat.update take: fallback text plus blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def digest(self) -> str:
        """What was last shown, so an edit that would change nothing costs no Slack call."""
        return hashlib.sha256(json.dumps([self.text, self.blocks], sort_keys=True).encode()).hexdigest()


def marker(incident_id: str, key: str) -> str:
    """The block_id that identifies a message when its ts was lost (Slack keeps block ids)."""
    return f"rb|{incident_id}|{key}"[:255]


# How long a post whose outcome is unknown (a timeout, a 5xx, a crash) may still appear in Slack:
# until then "not found by its marker" does not mean "not posted". Longer than any request Slack
# still completes after a client timeout (the client's own is 15 s).
IN_DOUBT_GRACE_S = 60.0


def find_marked(pages: Iterable[Any], wanted: str) -> str | None:
    """The ts of the first message, in pages of a history/replies listing, whose first block_id is ``wanted``."""
    for page in pages:
        for message in page.get("messages", []):
            blocks = message.get("blocks") or []
            if blocks and blocks[0].get("block_id") == wanted:
                return str(message["ts"])
    return None
