"""What the ack gate answers itself and in which order it runs the rest, decided on the raw bytes Slack
signs (app/ack_gate.py)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltRequest, BoltResponse

from app.ack_gate import AckGate, EarlyAck, opens_dialog
from app.factory import create_app
from app.settings import Settings
from handlers.actions_ids import OPENS_DIALOG, ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_block_action, sign
from tests.conftest import wait_for

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


# --- clicks that open a dialog go first ---------------------------------------------------------------
DIALOG_AND_NOT = [ActionId.INCIDENT_RESOLVE, ActionId.INCIDENT_CANCEL, ActionId.NOTICE_OPEN, ActionId.STEP_DONE]
PARENT_MESSAGE = {
    "blocks": [
        {"type": "actions", "elements": [{"type": "button", "action_id": a, "value": "RB-1"} for a in DIALOG_AND_NOT]}
    ]
}


def _click(action_id: str, *, actions_first: bool = False, separators: tuple[str, str] | None = None) -> bytes:
    """A click as Slack sends it: the whole message (all its buttons) beside the one clicked."""
    actions = [{"action_id": action_id, "block_id": "b", "value": "RB-1", "type": "button"}]
    parts: list[tuple[str, Any]] = [
        ("type", "block_actions"),
        ("user", {"id": "U1"}),
        ("trigger_id", "1.2.abc"),
        ("message", PARENT_MESSAGE),
        ("state", {"values": {"b": {"incident_resolve": {"type": "button"}}}}),
    ]
    payload = dict([("actions", actions), *parts] if actions_first else [*parts, ("actions", actions)])
    return _interactive(payload, separators).encode()


@pytest.mark.parametrize("actions_first", [False, True], ids=["actions-last", "actions-first"])
@pytest.mark.parametrize("separators", [None, (",", ":")], ids=["spaced", "compact"])
def test_only_the_clicked_button_decides_whether_a_dialog_opens(
    actions_first: bool, separators: tuple[str, str] | None
) -> None:
    for action in DIALOG_AND_NOT:
        body = _click(action, actions_first=actions_first, separators=separators)
        assert opens_dialog(body) is (action in OPENS_DIALOG), action


class _RecordingApp:
    """Stands in for bolt: records which button each deferred click was, the first one held."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.release = threading.Event()

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        self.seen.append(req.body["actions"][0]["action_id"])
        if len(self.seen) == 1:
            self.release.wait(10)
        return BoltResponse(status=200, body="")


def test_a_dialog_click_goes_ahead_of_the_clicks_already_waiting() -> None:
    """Before, it waited its turn: behind a burst of clicks its trigger_id (3 s) expired and the
    Resolve dialog never opened."""
    app = _RecordingApp()
    gate = AckGate(app=app, deps=None, signing_secret=SECRET, workers=1)  # type: ignore[arg-type]
    try:
        assert gate.defer_click(_click("step_done"), {})
        wait_for(lambda: app.seen, what="the worker busy with the first click")
        for action in ["step_done", "step_skip", "incident_cancel", "notice_open", "step_undo", "follow_up_assign"]:
            assert gate.defer_click(_click(action), {})
        app.release.set()
    finally:
        gate.close()
    assert app.seen == [
        "step_done",
        "notice_open",
        "follow_up_assign",
        "step_done",
        "step_skip",
        "incident_cancel",
        "step_undo",
    ]


def test_the_bots_own_messages_clicked_as_slack_sends_them(fake_slack: FakeSlack, bot_settings: Settings) -> None:
    """The thread's real messages: Resolve beside Cancel, "Set owner" beside Done and Skip."""
    bot = create_app(bot_settings)
    try:
        inc = bot.deps.service.open("production", "critical", "media 500s", "C0OPS", "U0ALICE")
        bot.deps.publisher.open_thread(inc)
        assert bot.deps.publisher.queue.wait_idle(20)
        follow_ups = bot.deps.service.section_messages(inc.id)["followup"]
        parent = str(bot.deps.service.get(inc.id).thread_ts)
        clicks = {
            ActionId.INCIDENT_RESOLVE: parent,
            ActionId.INCIDENT_CANCEL: parent,
            ActionId.FOLLOW_UP_ASSIGN: follow_ups,
            ActionId.STEP_DONE: follow_ups,
        }
        for action, ts in clicks.items():
            message = fake_slack.message("C0OPS", ts)
            block_id = next(
                b["block_id"]
                for b in message.blocks
                if any(e.get("action_id") == action for e in b.get("elements", []))
            )
            req = build_block_action(
                fake_slack, signing_secret=SECRET, user_id="U0BOB", channel_id="C0OPS", message_ts=ts,
                action_id=action, block_id=block_id,
            )  # fmt: skip
            assert opens_dialog(req.body.encode()) is (action in OPENS_DIALOG), action
    finally:
        bot.close()
