"""Block Kit limits (slack-platform.md §4), checked on every message we build.

slack_sdk validates some of these lazily; Slack rejects the rest with ``invalid_blocks``. A check
that runs before posting turns a 3 a.m. ``invalid_blocks`` into a failing unit test instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_ID = 255
MAX_VALUE = 2000
MAX_BUTTON_TEXT = 75
MAX_HEADER = 150
MAX_OPTION_VALUE = 150
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100


class BlockLimitError(ValueError):
    pass


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def limit_violations(blocks: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for b in blocks:
        if b.get("type") == "header" and len(b["text"]["text"]) > MAX_HEADER:
            problems.append(f"header text {len(b['text']['text'])} > {MAX_HEADER}")
        if b.get("type") == "actions" and len(b.get("elements", [])) > 25:
            problems.append("actions block with > 25 elements")
    for path, key, value in _walk(blocks):
        if key == "text" and isinstance(value, str) and len(value) > MAX_TEXT:
            problems.append(f"{path}.text is {len(value)} chars > {MAX_TEXT}")
        if key in ("action_id", "block_id") and len(str(value)) > MAX_ID:
            problems.append(f"{path}.{key} is {len(str(value))} chars > {MAX_ID}")
        if key == "value" and isinstance(value, str) and len(value) > MAX_VALUE:
            problems.append(f"{path}.value is {len(value)} chars > {MAX_VALUE}")
        if key == "options" and isinstance(value, list) and len(value) > MAX_OPTIONS:
            problems.append(f"{path}.options has {len(value)} > {MAX_OPTIONS}")
    for path, key, value in _walk(blocks):
        if key == "elements" and isinstance(value, list):
            for el in value:
                if isinstance(el, dict) and el.get("type") == "button" and len(el["text"]["text"]) > MAX_BUTTON_TEXT:
                    problems.append(f"{path} button text > {MAX_BUTTON_TEXT}")
    return problems


def check_limits(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    problems = limit_violations(blocks)
    if problems:
        raise BlockLimitError("; ".join(problems))
    return blocks


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Shorten text that comes from outside (summaries, agent output) to fit a field."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
