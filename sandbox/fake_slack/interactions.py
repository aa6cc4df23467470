"""What Slack sends to the app when a user acts: slash command fields and block_actions payloads.

Payloads are built from the messages the bot really posted into the fake, so a test can only click
a button that exists, with the action_id/value the bot actually rendered.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sandbox.fake_slack import responses
from sandbox.fake_slack.blocks import STATEFUL, block_elements, element_options
from sandbox.fake_slack.models import Ephemeral, Message
from sandbox.fake_slack.state import Workspace

OPTION_ELEMENTS = {"static_select", "overflow", "radio_buttons", "checkboxes", "external_select"}


class ElementNotFound(LookupError):
    """The requested action_id/value/block_id is not on the message (or matches more than one element)."""


def issue_trigger(ws: Workspace) -> str:
    """A fresh trigger_id, registered so views.open can check its 3-second lifetime."""
    with ws.lock:
        trigger = f"{int(time.time())}{ws.new_id('')}.{ws.team_id}.{uuid.uuid4().hex}"
        ws.triggers[trigger] = time.monotonic()
        return trigger


def _user_and_channel(ws: Workspace, user_id: str, channel_id: str) -> tuple[str, str]:
    if user_id not in ws.users:
        raise LookupError(f"fake slack: unknown user {user_id!r}; add it with fake.add_user()")
    if channel_id not in ws.channels:
        raise LookupError(f"fake slack: unknown channel {channel_id!r}; add it with fake.add_channel()")
    chan = ws.channels[channel_id]
    return ws.users[user_id].name, "directmessage" if chan.is_im else chan.name


def slash_command_fields(
    ws: Workspace, *, user_id: str, channel_id: str, text: str, command: str, api_app_id: str
) -> dict[str, str]:
    """The form fields of a slash command request, with a live response_url and a fresh trigger_id."""
    with ws.lock:
        user_name, channel_name = _user_and_channel(ws, user_id, channel_id)
        return {
            "token": "sandbox-verification-token",
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": responses.issue(ws, channel=channel_id, user=user_id),
            "trigger_id": issue_trigger(ws),
        }


def find_source(ws: Workspace, user_id: str, channel_id: str, message_ts: str) -> Message | Ephemeral:
    msg = ws.messages.get((channel_id, message_ts))
    if msg is not None:
        return msg
    for eph in ws.ephemerals:
        if (eph.channel, eph.message_ts, eph.user, eph.deleted) == (channel_id, message_ts, user_id, False):
            return eph
    raise ElementNotFound(f"fake slack: no message {message_ts} in {channel_id} visible to {user_id}")


def describe(blocks: list[dict[str, Any]]) -> str:
    found = [
        f"{el.get('action_id')}(block_id={b.get('block_id')}, type={el.get('type')}, value={el.get('value')})"
        for b in blocks
        for el, _ in block_elements(b)
    ]
    return ", ".join(found) or "no interactive elements"


def find_element(
    blocks: list[dict[str, Any]], action_id: str, *, value: str | None = None, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The single (block, element) with this action_id; `value` narrows buttons sharing an action_id."""
    matches = [
        (b, el)
        for b in blocks
        for el, _ in block_elements(b)
        if el.get("action_id") == action_id and block_id in (None, b.get("block_id"))
    ]
    if value is not None:
        matches = [(b, el) for b, el in matches if el.get("type") != "button" or el.get("value") == value]
    if len(matches) != 1:
        problem = "no element" if not matches else f"{len(matches)} elements"
        wanted = f"action_id={action_id!r} value={value!r} block_id={block_id!r}"
        raise ElementNotFound(f"fake slack: {problem} matching {wanted}; message has: {describe(blocks)}")
    return matches[0]


def pick_option(element: dict[str, Any], option_value: str) -> dict[str, Any]:
    for option in element_options(element):
        if option.get("value") == option_value:
            return option
    values = [o.get("value") for o in element_options(element)]
    raise ElementNotFound(f"fake slack: {element.get('action_id')!r} has no option {option_value!r}; has {values}")


def element_state(element: dict[str, Any], chosen: dict[str, Any] | None) -> dict[str, Any]:
    """One `state.values` entry: the chosen option for the acted-on element, else its initial value."""
    kind = element.get("type")
    if kind == "checkboxes":
        return {"type": kind, "selected_options": [chosen] if chosen else element.get("initial_options", [])}
    if kind == "plain_text_input":
        return {"type": kind, "value": element.get("initial_value")}
    if kind == "datepicker":
        return {"type": kind, "selected_date": element.get("initial_date")}
    if kind == "timepicker":
        return {"type": kind, "selected_time": element.get("initial_time")}
    if kind == "users_select":
        return {"type": kind, "selected_user": element.get("initial_user")}
    return {"type": kind, "selected_option": chosen or element.get("initial_option")}


def action_entry(block: dict[str, Any], element: dict[str, Any], chosen: dict[str, Any] | None) -> dict[str, Any]:
    kind = element.get("type")
    entry: dict[str, Any] = {
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
        "type": kind,
        "action_ts": f"{time.time():.6f}",
    }
    if kind == "button":
        entry["text"] = element.get("text")
        if "value" in element:
            entry["value"] = element["value"]
        if "style" in element:
            entry["style"] = element["style"]
    elif kind == "checkboxes":
        entry["selected_options"] = [chosen] if chosen else []
    else:
        entry["selected_option"] = chosen
        if "placeholder" in element:
            entry["placeholder"] = element["placeholder"]
    return entry


def block_action_payload(
    ws: Workspace,
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    option_value: str | None = None,
    api_app_id: str,
) -> dict[str, Any]:
    """A `block_actions` payload for acting on an element of a stored (or ephemeral) message."""
    with ws.lock:
        user_name, channel_name = _user_and_channel(ws, user_id, channel_id)
        source = find_source(ws, user_id, channel_id, message_ts)
        block, element = find_element(source.blocks, action_id, value=value, block_id=block_id)
        chosen: dict[str, Any] | None = None
        if element.get("type") in OPTION_ELEMENTS:
            wanted = option_value if option_value is not None else value
            if wanted is None:
                raise ElementNotFound(f"fake slack: {action_id!r} is a {element.get('type')}; pass an option value")
            chosen = pick_option(element, wanted)
        elif option_value is not None:
            raise ElementNotFound(f"fake slack: {action_id!r} is a {element.get('type')}, not a select")
        ephemeral = isinstance(source, Ephemeral)
        values: dict[str, dict[str, Any]] = {}
        for b in source.blocks:
            for el, _ in block_elements(b):
                if el.get("type") in STATEFUL and el.get("action_id"):
                    picked = chosen if el is element else None
                    values.setdefault(str(b.get("block_id")), {})[el["action_id"]] = element_state(el, picked)
        thread_ts = source.thread_ts if source.thread_ts and source.thread_ts != message_ts else None
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": ephemeral,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": ws.team_id},
            "api_app_id": api_app_id,
            "token": "sandbox-verification-token",
            "container": container,
            "trigger_id": issue_trigger(ws),
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel_name},
            "state": {"values": values},
            "response_url": responses.issue(
                ws, channel=channel_id, user=user_id, message_ts=message_ts, is_ephemeral=ephemeral
            ),
            "actions": [action_entry(block, element, chosen)],
        }
        if isinstance(source, Message):
            payload["message"] = {**source.to_api(), "team": ws.team_id}
        return payload


def _typed_input(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """One `view.state.values` entry as Slack types it, from what the person typed or picked."""
    kind = str(element.get("type"))
    if kind == "plain_text_input":
        return {"type": kind, "value": None if raw in (None, "") else str(raw)}
    if kind in ("static_select", "radio_buttons", "external_select"):
        chosen = pick_option(element, str(raw)) if raw not in (None, "") else None
        return {"type": kind, "selected_option": chosen}
    if kind in ("checkboxes", "multi_static_select"):
        picked = [pick_option(element, str(v)) for v in (raw or [])]
        return {"type": kind, "selected_options": picked}
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw or None}
    if kind == "timepicker":
        return {"type": kind, "selected_time": raw or None}
    if kind == "users_select":
        return {"type": kind, "selected_user": raw or None}
    if kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        return {"type": kind, key: raw or None}
    raise ElementNotFound(f"fake slack: the sandbox cannot fill a {kind!r} input")


def view_submission_payload(
    ws: Workspace,
    *,
    user_id: str,
    view_id: str,
    raw_values: dict[str, dict[str, Any]] | None = None,
    edits: dict[str, Any] | None = None,
    api_app_id: str,
) -> dict[str, Any]:
    """A `view_submission` for an open modal: every input block's value, typed by its element.

    `raw_values` maps block_id -> action_id -> what the person typed or picked (an option value, or a
    list of values for multi-choice); `edits` maps action_id -> the same, for modals whose action ids
    are unique. Inputs the person left alone are sent as Slack does: their initial value, or empty.
    """
    raw_values = raw_values or {}
    edits = edits or {}
    with ws.lock:
        if user_id not in ws.users:
            raise LookupError(f"fake slack: unknown user {user_id!r}")
        stored = ws.views.get(view_id)
        if stored is None or stored.closed:
            raise ElementNotFound(f"fake slack: no open view {view_id}")
        values: dict[str, dict[str, Any]] = {}
        unused = set(edits)
        for block in stored.view.get("blocks") or []:
            for element, _ in block_elements(block):
                if element.get("type") in STATEFUL and element.get("action_id"):
                    block_id, action_id = str(block.get("block_id")), str(element["action_id"])
                    typed = raw_values.get(block_id) or {}
                    if action_id in typed:
                        state = _typed_input(element, typed[action_id])
                    elif action_id in edits:
                        unused.discard(action_id)
                        state = _typed_input(element, edits[action_id])
                    else:  # left alone: Slack sends the initial value, or empty
                        state = element_state(element, None)
                    values.setdefault(block_id, {})[action_id] = state
        if unused:
            raise ElementNotFound(f"fake slack: view {view_id} has no inputs {sorted(unused)}")
        user = ws.users[user_id]
        return {
            "type": "view_submission",
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "user": {"id": user_id, "username": user.name, "name": user.name, "team_id": ws.team_id},
            "api_app_id": api_app_id,
            "token": "sandbox-verification-token",
            "trigger_id": issue_trigger(ws),
            "view": {**stored.to_api(ws.team_id), "state": {"values": values}, "app_id": api_app_id,
                     "bot_id": ws.bot_id},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }  # fmt: skip


def view_closed_payload(ws: Workspace, *, user_id: str, view_id: str, api_app_id: str) -> dict[str, Any]:
    """What Slack sends when a person closes a modal that asked for `notify_on_close`."""
    with ws.lock:
        stored = ws.views[view_id]
        user = ws.users[user_id]
        return {
            "type": "view_closed",
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "user": {"id": user_id, "username": user.name, "name": user.name, "team_id": ws.team_id},
            "api_app_id": api_app_id,
            "token": "sandbox-verification-token",
            "view": stored.to_api(ws.team_id),
            "is_cleared": False,
            "is_enterprise_install": False,
            "enterprise": None,
        }


def event_envelope(ws: Workspace, event: dict[str, Any], *, api_app_id: str) -> dict[str, Any]:
    """An Events API `event_callback` around `event`, as Slack POSTs it to the Request URL."""
    with ws.lock:
        return {
            "token": "sandbox-verification-token",
            "team_id": ws.team_id,
            "api_app_id": api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": ws.new_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {"enterprise_id": None, "team_id": ws.team_id, "user_id": ws.bot_user_id, "is_bot": True,
                 "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
        }  # fmt: skip


def message_event(ws: Workspace, msg: Message) -> dict[str, Any]:
    """The `message` event for a person's post (thread replies carry thread_ts and parent_user_id)."""
    with ws.lock:
        chan = ws.channels[msg.channel]
        channel_type = "im" if chan.is_im else "group" if chan.is_private else "channel"
        event: dict[str, Any] = {
            "type": "message",
            "channel": msg.channel,
            "user": msg.user,
            "text": msg.text,
            "ts": msg.ts,
            "event_ts": msg.ts,
            "team": ws.team_id,
            "channel_type": channel_type,
            "blocks": [
                {"type": "rich_text", "block_id": ws.new_id("rt"),
                 "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": msg.text}]}]}
            ],
        }  # fmt: skip
        if msg.is_reply and msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
            parent = ws.messages.get((msg.channel, msg.thread_ts))
            if parent is not None:
                event["parent_user_id"] = parent.user or ws.bot_user_id
        return event


def reaction_added_event(ws: Workspace, *, user_id: str, channel_id: str, ts: str, name: str) -> dict[str, Any]:
    with ws.lock:
        item = ws.message(channel_id, ts)
        return {
            "type": "reaction_added",
            "user": user_id,
            "reaction": name,
            "item_user": item.user or ws.bot_user_id,
            "item": {"type": "message", "channel": channel_id, "ts": ts},
            "event_ts": ws.next_ts(),
        }
