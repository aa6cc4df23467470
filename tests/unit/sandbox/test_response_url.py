"""response_url POSTs (bolt's respond() uses slack_sdk's WebhookClient) are recorded and applied."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from sandbox.fake_slack import FakeSlack
from tests.unit.sandbox.helpers import ALICE, OPS, section


def test_ephemeral_and_in_channel_responses(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=OPS, text="incident")["ts"]
    hook = WebhookClient(fake.new_response_url(OPS, ALICE))
    assert hook.send(text="only alice sees this").status_code == 200
    in_thread = {"text": "everyone", "response_type": "in_channel", "thread_ts": parent}
    assert hook.send_dict(in_thread).status_code == 200
    [eph] = fake.ephemerals(OPS, ALICE)
    assert (eph.text, eph.source) == ("only alice sees this", "response_url")
    assert fake.thread(OPS, parent)[-1].text == "everyone"
    assert [r.effect.split(":")[0] for r in fake.responses()] == ["ephemeral", "in_channel"]


def test_replace_and_delete_original(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=OPS, text="pending", blocks=[section("pending")])["ts"]
    hook = WebhookClient(fake.new_response_url(OPS, ALICE, message_ts=ts))
    hook.send(text="done", blocks=[section("*done*")], replace_original=True)
    msg = fake.message(OPS, ts)
    assert (msg.text, msg.blocks[0]["text"]["text"], msg.edit_count) == ("done", "*done*", 1)
    hook.send(delete_original=True)
    assert fake.messages(OPS) == []


def test_five_uses_then_refused(fake: FakeSlack) -> None:
    hook = WebhookClient(fake.new_response_url(OPS, ALICE))
    statuses = [hook.send(text=f"n{i}").status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert fake.responses()[-1].effect == "used_url"
    assert WebhookClient(f"{fake.root_url}/response/R404").send(text="x").status_code == 404


def test_unbound_response_url_only_records(fake: FakeSlack) -> None:
    WebhookClient(fake.new_response_url()).send(text="hi", response_type="in_channel")
    [post] = fake.responses()
    assert (post.body["text"], post.effect, post.status) == ("hi", "recorded", 200)
