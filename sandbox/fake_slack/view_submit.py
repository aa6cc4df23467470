"""``view_submission`` payloads built from a modal the app really opened in the fake.

Like clicks, a submission can only fill inputs the app rendered: each value is checked against an
``input`` block's element (its type decides the state shape Slack sends), and every input the view
has is present in ``state.values``, empty if the test left it blank, as in Slack.
"""

from __future__ import annotations

from typing import Any

from sandbox.fake_slack.interactions import ElementNotFound
from sandbox.fake_slack.state import Workspace


def _state(element: dict[str, Any], value: str | None) -> dict[str, Any]:
    kind = element.get("type")
    if kind == "plain_text_input":
        return {"type": kind, "value": value}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "timepicker":
        return {"type": kind, "selected_time": value}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "static_select":
        options = {o["value"]: o for o in element.get("options") or []}
        if value is not None and value not in options:
            raise ElementNotFound(f"fake slack: {value!r} is not an option of {element.get('action_id')!r}")
        return {"type": kind, "selected_option": options.get(value) if value is not None else None}
    raise ElementNotFound(f"fake slack: input element type {kind!r} is not supported by the fake")


def view_submission_payload(
    ws: Workspace, *, user_id: str, view_id: str, values: dict[str, str | None], api_app_id: str
) -> dict[str, Any]:
    """Submit view `view_id` as `user_id` with `values` keyed by the inputs' action_id."""
    with ws.lock:
        stored = ws.views.get(view_id)
        if stored is None:
            raise ElementNotFound(f"fake slack: no view {view_id}")
        if stored.view.get("type") != "modal":
            raise ElementNotFound("fake slack: only modals can be submitted")
        state: dict[str, dict[str, Any]] = {}
        known: set[str] = set()
        for block in stored.view.get("blocks") or []:
            if block.get("type") != "input":
                continue
            element = block.get("element") or {}
            action_id = str(element.get("action_id"))
            known.add(action_id)
            value = values.get(action_id, element.get("initial_value") or element.get("initial_date"))
            if element.get("type") == "users_select" and action_id not in values:
                value = element.get("initial_user")
            state.setdefault(str(block.get("block_id")), {})[action_id] = _state(element, value)
        unknown = set(values) - known
        if unknown:
            raise ElementNotFound(f"fake slack: the view has no input {sorted(unknown)}; it has {sorted(known)}")
        user = ws.users.get(user_id)
        name = user.name if user else user_id
        return {
            "type": "view_submission",
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "user": {"id": user_id, "username": name, "name": name, "team_id": ws.team_id},
            "api_app_id": api_app_id,
            "token": "sandbox-verification-token",
            "trigger_id": f"{ws.new_id('')}.{ws.team_id}",
            "view": {**stored.to_api(ws.team_id), "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
        }
