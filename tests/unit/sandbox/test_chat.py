"""chat.* against the fake through the real slack_sdk client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.fake_slack import FakeSlack
from sandbox.fake_slack.state import ts_key
from tests.unit.sandbox.helpers import ALICE, OPS, section


def test_post_message_ts_is_unique_and_monotonic(client: WebClient, fake: FakeSlack) -> None:
    stamps = [client.chat_postMessage(channel=OPS, text=f"m{i}")["ts"] for i in range(20)]
    assert len(set(stamps)) == 20
    assert [ts_key(t) for t in stamps] == sorted(ts_key(t) for t in stamps)
    assert all(len(t.split(".")[1]) == 6 for t in stamps)
    stored = fake.messages(OPS)
    assert [m.text for m in stored] == [f"m{i}" for i in range(20)]
    assert stored[0].bot_id == "B0001" and stored[0].user == "UBOT"


def test_post_by_channel_name_and_user_id_dm(client: WebClient, fake: FakeSlack) -> None:
    assert client.chat_postMessage(channel="#ops-incidents", text="x")["channel"] == OPS
    dm = client.chat_postMessage(channel=ALICE, text="psst")
    opened = client.conversations_open(users=ALICE)["channel"]["id"]
    assert dm["channel"] == opened and opened.startswith("D")
    assert [m.text for m in fake.messages(opened)] == ["psst"]


def test_thread_replies_update_parent(client: WebClient, fake: FakeSlack) -> None:
    parent = client.chat_postMessage(channel=OPS, text="incident")["ts"]
    first = client.chat_postMessage(channel=OPS, text="r1", thread_ts=parent)["ts"]
    client.chat_postMessage(channel=OPS, text="r2", thread_ts=first)  # reply to a reply lands in the thread
    last = client.chat_postMessage(channel=OPS, text="loud", thread_ts=parent, reply_broadcast=True)["ts"]
    head = fake.message(OPS, parent)
    assert (head.reply_count, head.latest_reply, head.thread_ts) == (3, last, parent)
    assert [m.text for m in fake.thread(OPS, first)] == ["incident", "r1", "r2", "loud"]
    assert [m.text for m in fake.messages(OPS)] == ["incident", "loud"]  # only the broadcast reply shows


def test_update_own_message_keeps_history(client: WebClient, fake: FakeSlack) -> None:
    ts = client.chat_postMessage(channel=OPS, text="v1", blocks=[section("step 1")])["ts"]
    client.chat_update(channel=OPS, ts=ts, text="v2", blocks=[section("step 2")])
    msg = fake.message(OPS, ts)
    assert (msg.text, msg.edit_count, msg.history[0].text) == ("v2", 1, "v1")
    assert msg.blocks[0]["text"]["text"] == "step 2" and msg.blocks[0]["block_id"]


def test_update_other_users_message_is_refused(client: WebClient, fake: FakeSlack) -> None:
    human = fake.post_as_user(OPS, ALICE, "mine")
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=OPS, ts=human.ts, text="hijack")
    assert err.value.response["error"] == "cant_update_message"
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel=OPS, ts="1.000001", text="?")
    assert missing.value.response["error"] == "message_not_found"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C404", "text": "x"}, "channel_not_found"),
        ({"channel": OPS}, "no_text"),
        ({"channel": OPS, "text": "x", "blocks": [section("a")] * 51}, "invalid_blocks"),
        ({"channel": OPS, "text": "x", "blocks": [section("a" * 3001)]}, "invalid_blocks"),
        ({"channel": OPS, "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_errors(client: WebClient, kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(**kwargs)  # type: ignore[arg-type]
    assert err.value.response["error"] == error


def test_auth_is_required(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=fake.base_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as none:
        WebClient(base_url=fake.base_url).auth_test()
    assert none.value.response["error"] == "not_authed"


def test_ephemeral_is_recorded_but_not_in_history(client: WebClient, fake: FakeSlack) -> None:
    out = client.chat_postEphemeral(channel=OPS, user=ALICE, text="only you")
    assert fake.messages(OPS) == []
    [eph] = fake.ephemerals(channel=OPS, user=ALICE)
    assert (eph.text, eph.message_ts) == ("only you", out["message_ts"])
    fake.add_user("U0ZED", "zed")
    with pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel=OPS, user="U0ZED", text="x")
    assert err.value.response["error"] == "user_not_in_channel"


def test_concurrent_posts_get_distinct_ts(client: WebClient, fake: FakeSlack) -> None:
    def burst(n: int) -> list[str]:
        return [str(client.chat_postMessage(channel=OPS, text=f"{n}-{i}")["ts"]) for i in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = [ts for batch in pool.map(burst, range(8)) for ts in batch]
    assert len(set(stamps)) == 80 and len(fake.messages(OPS)) == 80


def test_permalink(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=OPS, text="p")["ts"]
    reply = client.chat_postMessage(channel=OPS, text="r", thread_ts=parent)["ts"]
    link = client.chat_getPermalink(channel=OPS, message_ts=reply)["permalink"]
    assert link == f"https://sandbox.slack.com/archives/{OPS}/p{reply.replace('.', '')}?thread_ts={parent}&cid={OPS}"
