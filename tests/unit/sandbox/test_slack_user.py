"""slack_user builders produce requests Slack's verifier accepts and bolt routes to the right listener."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from sandbox.fake_slack import ElementNotFound, FakeSlack
from sandbox.slack_user import build_block_action, build_slash_command, sign
from tests.unit.sandbox.helpers import ALICE, OPS, SECRET, actions, button, option, section

CONFIRM = {
    "title": {"type": "plain_text", "text": "Sure?"},
    "text": {"type": "plain_text", "text": "This rolls back production."},
    "confirm": {"type": "plain_text", "text": "Roll back"},
    "deny": {"type": "plain_text", "text": "Cancel"},
}
SELECT = {
    "type": "static_select",
    "action_id": "pick_backup",
    "placeholder": {"type": "plain_text", "text": "Backup"},
    "options": [option("b1.tar"), option("b2.tar")],
}
STEP_BLOCKS = [
    section("*Incident inc-1*"),
    actions(
        button("step_done", "inc-1:1", "Step 1 done"),
        button("step_done", "inc-1:2", "Step 2 done"),
        button("rollback", "inc-1", "Roll back", style="danger", confirm=CONFIRM),
        block_id="steps",
    ),
    {**section("Restore from"), "accessory": SELECT},
]


def parse_payload(body: str) -> dict[str, Any]:
    return dict(json.loads(parse_qs(body)["payload"][0]))


def test_sign_matches_slack_official_vector() -> None:
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    assert headers["x-slack-signature"] == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slash_command_has_slack_fields_and_valid_signature(fake: FakeSlack) -> None:
    req = build_slash_command(fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, text="gofastcdn v1.2")
    fields = {k: v[0] for k, v in parse_qs(req.body, keep_blank_values=True).items()}
    assert fields["command"] == "/rollback" and fields["text"] == "gofastcdn v1.2"
    assert (fields["channel_name"], fields["user_name"], fields["team_id"]) == ("ops-incidents", "alice", "T0001")
    assert fields["response_url"].startswith(fake.root_url + "/response/")
    assert {"api_app_id", "team_domain", "is_enterprise_install", "trigger_id", "token"} <= fields.keys()
    verifier = SignatureVerifier(SECRET)
    ts, sig = req.headers["x-slack-request-timestamp"], req.headers["x-slack-signature"]
    assert verifier.is_valid(body=req.body, timestamp=ts, signature=sig)
    assert not verifier.is_valid(body=req.body + "x", timestamp=ts, signature=sig)
    again = build_slash_command(fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, text="")
    assert again.payload["trigger_id"] != req.payload["trigger_id"]


def make_app(fake: FakeSlack, seen: list[dict[str, Any]]) -> App:
    app = App(
        client=WebClient(token=fake.bot_token, base_url=fake.base_url),
        signing_secret=SECRET,
        process_before_response=True,  # listeners finish inside dispatch(): no polling needed
    )

    @app.command("/rollback")
    def open_incident(ack: Any, command: dict[str, Any], client: WebClient) -> None:
        ack("opening incident")
        client.chat_postMessage(channel=command["channel_id"], text="Incident inc-1", blocks=STEP_BLOCKS)

    @app.action("step_done")
    def step_done(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        seen.append(body)
        respond(text=f"noted {body['actions'][0]['value']}")

    @app.action("pick_backup")
    def pick(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen.append(body)

    return app


def test_bolt_dispatches_slash_command_and_real_button(fake: FakeSlack) -> None:
    seen: list[dict[str, Any]] = []
    app = make_app(fake, seen)
    slash = build_slash_command(fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, text="")
    resp = app.dispatch(slash.bolt_request())
    assert (resp.status, resp.body) == (200, "opening incident")
    [posted] = fake.messages(OPS)

    click = build_block_action(
        fake,
        signing_secret=SECRET,
        user_id=ALICE,
        channel_id=OPS,
        message_ts=posted.ts,
        action_id="step_done",
        value="inc-1:2",
    )
    assert app.dispatch(click.bolt_request()).status == 200
    [body] = seen
    assert body["actions"][0] | {"action_ts": None} == {
        "action_id": "step_done",
        "block_id": "steps",
        "type": "button",
        "value": "inc-1:2",
        "action_ts": None,
        "text": {"type": "plain_text", "text": "Step 2 done"},
    }
    assert body["container"] == {
        "type": "message",
        "message_ts": posted.ts,
        "channel_id": OPS,
        "is_ephemeral": False,
    }
    assert body["user"]["id"] == ALICE and body["channel"] == {"id": OPS, "name": "ops-incidents"}
    assert body["message"]["blocks"] == posted.blocks
    assert body["state"]["values"][posted.blocks[2]["block_id"]]["pick_backup"]["selected_option"] is None
    [reply] = fake.ephemerals(OPS, ALICE)
    assert reply.text == "noted inc-1:2"


def test_bad_signature_is_rejected_by_bolt(fake: FakeSlack) -> None:
    app = make_app(fake, [])
    req = build_slash_command(fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, text="")
    assert app.dispatch(req.with_bad_signature().bolt_request()).status == 401
    old = build_slash_command(
        fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, text="", timestamp=1_000_000_000
    )
    assert app.dispatch(old.bolt_request()).status == 401


def test_select_sets_selected_option_and_state(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=OPS, text="x", blocks=STEP_BLOCKS)["ts"]
    req = build_block_action(
        fake,
        signing_secret=SECRET,
        user_id=ALICE,
        channel_id=OPS,
        message_ts=ts,
        action_id="pick_backup",
        option_value="b2.tar",
    )
    payload = parse_payload(req.body)
    action = payload["actions"][0]
    assert (action["type"], action["selected_option"]["value"]) == ("static_select", "b2.tar")
    state = payload["state"]["values"][action["block_id"]]["pick_backup"]
    assert state == {"type": "static_select", "selected_option": option("b2.tar")}
    with pytest.raises(ElementNotFound, match="no option 'b9.tar'"):
        build_block_action(
            fake,
            signing_secret=SECRET,
            user_id=ALICE,
            channel_id=OPS,
            message_ts=ts,
            action_id="pick_backup",
            option_value="b9.tar",
        )


def test_click_errors_name_what_exists(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=OPS, text="x", blocks=STEP_BLOCKS)["ts"]
    with pytest.raises(ElementNotFound, match=r"no element .*step_done\(block_id=steps"):
        build_block_action(
            fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, message_ts=ts, action_id="approve"
        )
    with pytest.raises(ElementNotFound, match="2 elements"):
        build_block_action(
            fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, message_ts=ts, action_id="step_done"
        )
    with pytest.raises(ElementNotFound, match="no element"):
        build_block_action(
            fake,
            signing_secret=SECRET,
            user_id=ALICE,
            channel_id=OPS,
            message_ts=ts,
            action_id="step_done",
            value="inc-1:9",
        )
    with pytest.raises(ElementNotFound, match="no message"):
        build_block_action(
            fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, message_ts="1.000001", action_id="x"
        )


def test_confirm_button_in_thread(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=OPS, text="incident")["ts"]
    ts = client.chat_postMessage(channel=OPS, text="x", blocks=STEP_BLOCKS, thread_ts=parent)["ts"]
    payload = build_block_action(
        fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, message_ts=ts, action_id="rollback"
    ).payload
    assert payload["container"]["thread_ts"] == parent and payload["message"]["thread_ts"] == parent
    assert payload["actions"][0]["style"] == "danger" and "confirm" not in payload["actions"][0]


def test_click_on_ephemeral_message(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postEphemeral(channel=OPS, user=ALICE, text="confirm?", blocks=[actions(button("yes", "1"))])
    [eph] = fake.ephemerals(OPS, ALICE)
    payload = build_block_action(
        fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, message_ts=eph.message_ts, action_id="yes"
    ).payload
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    WebhookClient(payload["response_url"]).send(text="confirmed", replace_original=True)
    assert fake.ephemerals(OPS, ALICE)[0].text == "confirmed"
