"""conversations.replies paging, membership and the 15-item / 1-per-minute regime."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.fake_slack import FakeSlack
from tests.unit.sandbox.helpers import OPS


def make_thread(client: WebClient, replies: int) -> str:
    parent = client.chat_postMessage(channel=OPS, text="parent")["ts"]
    for i in range(replies):
        client.chat_postMessage(channel=OPS, text=f"r{i}", thread_ts=parent)
    return str(parent)


def test_cursor_paging_returns_whole_thread_parent_first(client: WebClient, fake: FakeSlack) -> None:
    parent = make_thread(client, 6)
    # SlackResponse iteration yields the same object re-filled per page: copy inside the loop.
    pages = [dict(page.data) for page in client.conversations_replies(channel=OPS, ts=parent, limit=3)]
    assert [len(p["messages"]) for p in pages] == [3, 3, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    texts = [m["text"] for p in pages for m in p["messages"]]
    assert texts == ["parent"] + [f"r{i}" for i in range(6)]
    calls = fake.calls("conversations.replies")
    assert "cursor" not in calls[0] and all(c["cursor"] and c["limit"] == "3" for c in calls[1:])


def test_replies_by_reply_ts_and_window(client: WebClient) -> None:
    parent = make_thread(client, 3)
    replies = client.conversations_replies(channel=OPS, ts=parent)["messages"]
    again = client.conversations_replies(channel=OPS, ts=replies[2]["ts"])["messages"]
    assert [m["ts"] for m in again] == [m["ts"] for m in replies]
    assert replies[0]["reply_count"] == 3
    newer = client.conversations_replies(channel=OPS, ts=parent, oldest=replies[2]["ts"])["messages"]
    assert [m["text"] for m in newer] == ["parent", "r2"]
    with_r1 = client.conversations_replies(channel=OPS, ts=parent, oldest=replies[2]["ts"], inclusive=True)
    assert [m["text"] for m in with_r1["messages"]] == ["parent", "r1", "r2"]


def test_reading_needs_membership_join_fixes_it(client: WebClient, fake: FakeSlack) -> None:
    fake.add_channel("C0PUB", "public", members=["U0ALICE"], bot_member=False)
    ts = client.chat_postMessage(channel="C0PUB", text="posting is allowed")["ts"]  # chat:write.public
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel="C0PUB", ts=ts)
    assert err.value.response["error"] == "not_in_channel"
    assert client.conversations_join(channel="C0PUB")["channel"]["is_member"] is True
    assert len(client.conversations_replies(channel="C0PUB", ts=ts)["messages"]) == 1


def test_unknown_thread(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel=OPS, ts="1.000001")
    assert err.value.response["error"] == "thread_not_found"


def test_restricted_regime_caps_limit_and_rate(client: WebClient, fake: FakeSlack) -> None:
    parent = make_thread(client, 20)
    fake.restrict_replies(max_limit=15, min_interval_s=60)
    first = client.conversations_replies(channel=OPS, ts=parent, limit=200)
    assert len(first["messages"]) == 15 and first["has_more"] is True
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel=OPS, ts=parent, cursor=first["response_metadata"]["next_cursor"])
    assert err.value.response.status_code == 429
    assert 55 <= int(err.value.response.headers["Retry-After"]) <= 60


def test_parent_on_every_page_switch(client: WebClient, fake: FakeSlack) -> None:
    parent = make_thread(client, 4)
    fake.restrict_replies(max_limit=2, min_interval_s=0, parent_on_every_page=True)
    pages = [[m["text"] for m in p["messages"]] for p in client.conversations_replies(channel=OPS, ts=parent)]
    # (list comprehension reads each page inside the loop, so the shared SlackResponse is fine here)
    assert pages == [["parent", "r0"], ["parent", "r1", "r2"], ["parent", "r3"]]


def test_last_page_exactly_full_has_no_more(client: WebClient) -> None:
    parent = make_thread(client, 5)  # 6 messages, 2 full pages of 3
    pages = [(len(p["messages"]), p["has_more"]) for p in client.conversations_replies(channel=OPS, ts=parent, limit=3)]
    assert pages == [(3, True), (3, False)]
