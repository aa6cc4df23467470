"""People in a thread (edit, delete, react) and modal submissions, as the fake gives them to the app."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from slack_sdk import WebClient

from sandbox.fake_slack import ElementNotFound, FakeSlack
from sandbox.slack_user import build_event, build_view_submission
from tests.unit.sandbox.helpers import ALICE, OPS


def test_edit_delete_react_change_history_and_return_the_events(client: WebClient, fake: FakeSlack) -> None:
    parent = client.chat_postMessage(channel=OPS, text="incident")["ts"]
    written = fake.write_in_thread(OPS, ALICE, "first", thread_ts=parent)
    assert (written["type"], written["thread_ts"], written["user"]) == ("message", parent, ALICE)
    edit = fake.edit_as_user(OPS, written["ts"], "second")
    assert edit["subtype"] == "message_changed" and edit["previous_message"]["text"] == "first"
    assert edit["message"]["text"] == "second" and edit["message"]["edited"]["ts"] != written["ts"]
    pin = fake.react_in_thread(OPS, written["ts"], ALICE, "pushpin")
    assert pin["type"] == "reaction_added" and pin["item"] == {"type": "message", "channel": OPS, "ts": written["ts"]}
    replies = client.conversations_replies(channel=OPS, ts=parent, limit=10)["messages"]
    assert replies[1]["text"] == "second" and replies[1]["reactions"] == [
        {"name": "pushpin", "users": [ALICE], "count": 1}
    ]
    gone = fake.delete_as_user(OPS, written["ts"])
    assert gone["subtype"] == "message_deleted" and gone["deleted_ts"] == written["ts"]
    assert [m["ts"] for m in client.conversations_replies(channel=OPS, ts=parent, limit=10)["messages"]] == [parent]
    req = build_event(fake, signing_secret="s", event=gone)
    assert json.loads(req.body)["event"] == gone and req.headers["content-type"] == "application/json"


def test_view_submission_fills_only_inputs_the_view_has(client: WebClient, fake: FakeSlack) -> None:
    view = {
        "type": "modal",
        "callback_id": "cb",
        "title": {"type": "plain_text", "text": "Resolve"},
        "submit": {"type": "plain_text", "text": "Resolve"},
        "blocks": [
            {
                "type": "input",
                "block_id": "cause",
                "label": {"type": "plain_text", "text": "Root cause"},
                "element": {"type": "plain_text_input", "action_id": "root_cause", "initial_value": "guess"},
            },
            {
                "type": "input",
                "block_id": "due",
                "label": {"type": "plain_text", "text": "Due"},
                "element": {"type": "datepicker", "action_id": "due_date"},
            },
        ],
    }
    opened = client.views_open(trigger_id=fake.new_trigger_id(), view=view)["view"]
    req = build_view_submission(
        fake, signing_secret="s", user_id=ALICE, view_id=opened["id"], edits={"due_date": "2030-01-02"}
    )
    payload = json.loads(unquote(req.body.removeprefix("payload=")))
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "cb"
    assert payload["view"]["state"]["values"] == {
        "cause": {"root_cause": {"type": "plain_text_input", "value": "guess"}},
        "due": {"due_date": {"type": "datepicker", "selected_date": "2030-01-02"}},
    }
    with pytest.raises(ElementNotFound, match="has no inputs"):
        build_view_submission(fake, signing_secret="s", user_id=ALICE, view_id=opened["id"], edits={"nope": "x"})
