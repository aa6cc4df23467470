"""What the ack gate answers itself, decided on the raw bytes Slack signs (app/ack_gate.py)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from app.ack_gate import AckGate, EarlyAck
from sandbox.slack_user import sign

SECRET = "unit-secret"


def _gate() -> AckGate:
    return AckGate(app=None, deps=None, signing_secret=SECRET, workers=1)  # type: ignore[arg-type]


def _interactive(payload: dict[str, Any], separators: tuple[str, str] | None = None) -> str:
    return urlencode({"payload": json.dumps(payload, separators=separators)})


def _classify(body: str, secret: str = SECRET, age_s: int = 0) -> EarlyAck | None:
    headers = sign(body, secret, timestamp=int(time.time()) - age_s)
    gate = _gate()
    try:
        return gate.classify(body.encode(), headers["x-slack-request-timestamp"], headers["x-slack-signature"])
    finally:
        gate.close()


CLICK = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "step_done", "value": "RB-1|a"}]}


@pytest.mark.parametrize("separators", [None, (",", ":"), (", ", " : ")], ids=["spaced", "compact", "wide"])
def test_a_click_is_acked_early_however_its_json_is_spaced(separators: tuple[str, str] | None) -> None:
    assert _classify(_interactive(CLICK, separators)) is EarlyAck.CLICK


def test_the_click_type_is_found_wherever_the_key_is() -> None:
    reordered = {"user": {"id": "U1"}, "actions": [], "type": "block_actions"}
    assert _classify(_interactive(reordered)) is EarlyAck.CLICK


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "view_submission", "view": {"callback_id": "x", "state": {}}},
        # a user typed the words into a modal: inside a string the quotes are escaped, so no match
        {"type": "view_submission", "view": {"state": {"values": {"b": {"a": {"value": '"type":"block_actions"'}}}}}},
        {"type": "block_suggestion", "value": "block_actions"},
    ],
    ids=["view_submission", "typed-words", "suggestion"],
)
def test_other_interactive_payloads_go_to_bolt(payload: dict[str, Any]) -> None:
    assert _classify(_interactive(payload)) is None


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"command": "/rollback", "text": "production critical", "user_id": "U1"}, EarlyAck.ROLLBACK_COMMAND),
        ({"user_id": "U1", "command": "/rollback", "text": ""}, EarlyAck.ROLLBACK_COMMAND),
        ({"command": "/rollbacks", "text": ""}, None),
        ({"command": "/other", "text": "command=/rollback&x"}, None),
        ({"ssl_check": "1", "token": "x"}, None),
    ],
    ids=["first", "middle", "longer-name", "in-the-text", "ssl-check"],
)
def test_only_the_rollback_command_itself_is_answered_by_the_gate(form: dict[str, str], expected: Any) -> None:
    assert _classify(urlencode(form)) is expected


def test_events_api_json_goes_to_bolt() -> None:
    assert _classify(json.dumps({"type": "event_callback", "event": {"type": "message"}})) is None


@pytest.mark.parametrize(("secret", "age_s"), [("wrong-secret", 0), (SECRET, 301), (SECRET, -301)])
def test_an_unverified_request_is_never_acked_early(secret: str, age_s: int) -> None:
    assert _classify(_interactive(CLICK), secret=secret, age_s=age_s) is None
    assert _classify(urlencode({"command": "/rollback", "text": ""}), secret=secret, age_s=age_s) is None


def test_socket_mode_has_no_signing_secret_and_no_early_acks() -> None:
    gate = AckGate(app=None, deps=None, signing_secret=None, workers=1)  # type: ignore[arg-type]
    body = _interactive(CLICK)
    assert gate.classify(body.encode(), "0", "") is None
    gate.close()
