"""Block Kit handling shared by the API (validation, block_id assignment), payload builders and render.

Validation mirrors the limits Slack enforces server-side (docs: Block Kit reference), so a builder
bug that real Slack would answer with `invalid_blocks` fails in the sandbox too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sandbox.fake_slack.registry import SlackError

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_ID_LEN = 255
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_TEXT = 75
MAX_OPTIONS_CHECKBOX = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150
STATEFUL = {
    "static_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "external_select",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "plain_text_input",
}


def invalid(reason: str) -> SlackError:
    return SlackError("invalid_blocks", errors=[reason])


def normalize_blocks(raw: Any, *, salt: str) -> list[dict[str, Any]]:
    """Validate and give every block a block_id, as Slack does when the app leaves it out."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(b, dict) and b.get("type") for b in raw):
        raise SlackError("invalid_blocks_format")
    if len(raw) > MAX_BLOCKS:
        raise invalid(f"must contain at most {MAX_BLOCKS} blocks [json-pointer:/blocks]")
    out: list[dict[str, Any]] = []
    for index, block in enumerate(raw):
        validate_block(block, f"/blocks/{index}")
        block = dict(block)
        if not block.get("block_id"):
            digest = hashlib.sha1(f"{salt}:{index}:{json.dumps(block, sort_keys=True)}".encode()).hexdigest()
            block["block_id"] = digest[:5]
        out.append(block)
    return out


def validate_block(block: dict[str, Any], where: str) -> None:
    if len(str(block.get("block_id", ""))) > MAX_ID_LEN:
        raise invalid(f"block_id too long [json-pointer:{where}/block_id]")
    kind = block["type"]
    if kind == "section":
        text = (block.get("text") or {}).get("text", "")
        if len(text) > MAX_SECTION_TEXT:
            raise invalid(f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}/text]")
        if not text and not block.get("fields"):
            raise invalid(f"section needs text or fields [json-pointer:{where}]")
        if len(block.get("fields") or []) > 10:
            raise invalid(f"at most 10 fields [json-pointer:{where}/fields]")
    elif kind == "header":
        if len((block.get("text") or {}).get("text", "")) > MAX_HEADER_TEXT:
            raise invalid(f"header text too long [json-pointer:{where}/text]")
    elif kind == "actions":
        if not block.get("elements") or len(block["elements"]) > MAX_ACTIONS_ELEMENTS:
            raise invalid(f"actions needs 1..{MAX_ACTIONS_ELEMENTS} elements [json-pointer:{where}/elements]")
    elif kind == "context" and (not block.get("elements") or len(block["elements"]) > MAX_CONTEXT_ELEMENTS):
        raise invalid(f"context needs 1..{MAX_CONTEXT_ELEMENTS} elements [json-pointer:{where}/elements]")
    for element, path in block_elements(block, where):
        validate_element(element, path)


def validate_element(element: dict[str, Any], where: str) -> None:
    if len(str(element.get("action_id", ""))) > MAX_ID_LEN:
        raise invalid(f"action_id too long [json-pointer:{where}/action_id]")
    if element.get("type") == "button":
        if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
            raise invalid(f"value too long [json-pointer:{where}/value]")
        if len((element.get("text") or {}).get("text", "")) > MAX_BUTTON_TEXT:
            raise invalid(f"button text too long [json-pointer:{where}/text]")
    if element.get("type") in ("checkboxes", "radio_buttons") and len(element.get("options") or []) > 10:
        raise invalid(f"at most {MAX_OPTIONS_CHECKBOX} options [json-pointer:{where}/options]")


def block_elements(block: dict[str, Any], where: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """Interactive elements of a block: actions elements, a section accessory, an input element."""
    if block.get("type") == "actions":
        for i, element in enumerate(block.get("elements") or []):
            yield element, f"{where}/elements/{i}"
    if isinstance(block.get("accessory"), dict):
        yield block["accessory"], f"{where}/accessory"
    if block.get("type") == "input" and isinstance(block.get("element"), dict):
        yield block["element"], f"{where}/element"


def element_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    """All options of a select/overflow/radio element, flattening option_groups."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def plain(text_obj: Any) -> str:
    """The string inside a text object (or "" when absent)."""
    if isinstance(text_obj, dict):
        return str(text_obj.get("text", ""))
    return ""
