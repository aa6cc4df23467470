"""What the page makes Slack send: view submissions, message and reaction events, routed by real bolt."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient

from sandbox.fake_slack import ElementNotFound, FakeSlack
from sandbox.slack_user import build_message_event, build_reaction_added, build_view_submission
from tests.unit.sandbox.helpers import ALICE, OPS, SECRET, option

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "resolve",
    "title": {"type": "plain_text", "text": "Resolve"},
    "submit": {"type": "plain_text", "text": "Resolve"},
    "blocks": [
        {"type": "input", "block_id": "cause", "label": {"type": "plain_text", "text": "Cause"},
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True}},
        {"type": "input", "block_id": "kind", "label": {"type": "plain_text", "text": "Kind"},
         "element": {"type": "static_select", "action_id": "pick", "options": [option("loss"), option("outage")]}},
        {"type": "input", "block_id": "who", "optional": True, "label": {"type": "plain_text", "text": "Who"},
         "element": {"type": "checkboxes", "action_id": "boxes", "options": [option("db"), option("app")]}},
    ],
}  # fmt: skip


def bolt_app(fake: FakeSlack) -> App:
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    return App(client=client, signing_secret=SECRET, token_verification_enabled=False)


def open_modal(fake: FakeSlack) -> str:
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    return str(client.views_open(trigger_id=fake.new_trigger_id(), view=MODAL)["view"]["id"])


def test_view_submission_types_each_input_and_reaches_the_view_listener(fake: FakeSlack) -> None:
    app, seen = bolt_app(fake), []

    @app.view("resolve")
    def on_submit(ack: Any, body: dict[str, Any]) -> None:
        seen.append(body)
        ack(response_action="errors", errors={"cause": "too short"})

    view_id = open_modal(fake)
    req = build_view_submission(
        fake, signing_secret=SECRET, user_id=ALICE, view_id=view_id,
        values={"cause": {"text": "x"}, "kind": {"pick": "outage"}, "who": {"boxes": ["db", "app"]}},
    )  # fmt: skip
    resp = app.dispatch(req.bolt_request())
    assert resp.status == 200 and json.loads(resp.body) == {
        "response_action": "errors",
        "errors": {"cause": "too short"},
    }
    values = seen[0]["view"]["state"]["values"]
    assert values["cause"]["text"] == {"type": "plain_text_input", "value": "x"}
    assert values["kind"]["pick"]["selected_option"]["value"] == "outage"
    assert [o["value"] for o in values["who"]["boxes"]["selected_options"]] == ["db", "app"]
    assert seen[0]["view"]["id"] == view_id and seen[0]["user"]["id"] == ALICE


def test_view_submission_left_empty_is_sent_empty_and_unknown_options_are_refused(fake: FakeSlack) -> None:
    view_id = open_modal(fake)
    empty = build_view_submission(fake, signing_secret=SECRET, user_id=ALICE, view_id=view_id, values={})
    state = empty.payload["view"]["state"]["values"]
    assert state["cause"]["text"]["value"] is None and state["kind"]["pick"]["selected_option"] is None
    with pytest.raises(ElementNotFound):
        build_view_submission(
            fake, signing_secret=SECRET, user_id=ALICE, view_id=view_id, values={"kind": {"pick": "x"}}
        )
    with pytest.raises(ElementNotFound):
        build_view_submission(fake, signing_secret=SECRET, user_id=ALICE, view_id="V404", values={})


def test_thread_reply_arrives_as_a_message_event_with_thread_ts(fake: FakeSlack) -> None:
    app, seen = bolt_app(fake), []

    @app.event("message")
    def on_message(event: dict[str, Any]) -> None:
        seen.append(event)

    parent = WebClient(token=fake.bot_token, base_url=fake.base_url).chat_postMessage(channel=OPS, text="RB-1")
    reply = fake.post_as_user(OPS, ALICE, "app is down", thread_ts=parent["ts"])
    req = build_message_event(fake, reply, signing_secret=SECRET)
    assert req.headers["content-type"] == "application/json"
    assert app.dispatch(req.bolt_request()).status == 200
    event = seen[0]
    assert (event["type"], event["channel"], event["user"], event["text"]) == ("message", OPS, ALICE, "app is down")
    assert event["thread_ts"] == parent["ts"] and event["parent_user_id"] == fake.bot_user_id
    assert event["channel_type"] == "channel" and "subtype" not in event
    assert req.payload["type"] == "event_callback" and req.payload["event_id"].startswith("Ev")


def test_reaction_added_event_names_the_item(fake: FakeSlack) -> None:
    app, seen = bolt_app(fake), []

    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any]) -> None:
        seen.append(event)

    ts = WebClient(token=fake.bot_token, base_url=fake.base_url).chat_postMessage(channel=OPS, text="x")["ts"]
    assert fake.react_as_user(OPS, ts, ALICE, "pushpin") and not fake.react_as_user(OPS, ts, ALICE, "pushpin")
    req = build_reaction_added(fake, signing_secret=SECRET, user_id=ALICE, channel_id=OPS, ts=ts, name="pushpin")
    assert app.dispatch(req.bolt_request()).status == 200
    assert seen[0]["reaction"] == "pushpin" and seen[0]["item"] == {"type": "message", "channel": OPS, "ts": ts}
    assert fake.reactions(OPS, ts) == {"pushpin": [ALICE]}


def test_wildcard_fault_hits_every_method_until_withdrawn(fake: FakeSlack) -> None:
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    fault = fake.inject("*", error="fatal_error", times=None)
    for method in (client.auth_test, lambda: client.chat_postMessage(channel=OPS, text="x")):
        with pytest.raises(Exception, match="fatal_error"):
            method()
    fake.withdraw(fault)
    assert client.auth_test()["ok"] and fake.injections() == []
