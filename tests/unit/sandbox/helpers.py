"""Shared constants and Block Kit snippets for the sandbox tests."""

from __future__ import annotations

from typing import Any

OPS = "C0OPS"
ALICE, BOB = "U0ALICE", "U0BOB"
SECRET = "sandbox-signing-secret"


def button(action_id: str, value: str, label: str = "Go", **extra: Any) -> dict[str, Any]:
    text = {"type": "plain_text", "text": label}
    return {"type": "button", "action_id": action_id, "value": value, "text": text, **extra}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label or value}, "value": value}
