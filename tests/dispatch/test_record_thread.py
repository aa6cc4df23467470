"""The thread read back for the record: paging, 429s, order, de-duplication; thread events into the timeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from app.factory import RollbackBot, create_app
from app.settings import Settings
from bot.record.builder import RecordBuilder
from bot.record.timeline import ts_sort_key
from handlers.actions_ids import ActionId
from handlers.thread_history import ThreadUnreadable, fetch_thread
from sandbox.fake_slack import FakeSlack
from sandbox.fake_slack.api_chat import post
from sandbox.slack_user import build_block_action, build_event
from tests.conftest import SIGNING_SECRET, wait_for

CHANNEL = "C0OPS"


def client_for(fake: FakeSlack, retries: int = 4) -> WebClient:
    return WebClient(
        token=fake.bot_token,
        base_url=fake.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=retries)],
    )


def big_thread(fake: FakeSlack, n: int) -> tuple[str, list[str]]:
    root = fake.ws  # the bot posts the parent and a result now and then, people write the rest
    parent_msg = post(root, CHANNEL, text="RB-1 parent")
    human: list[str] = []
    users = ["U0ALICE", "U0BOB", "U0CAROL"]
    for i in range(n):
        if i % 100 == 50:
            post(root, CHANNEL, text=f"bot result {i}", thread_ts=parent_msg.ts)
        else:
            ev = fake.write_in_thread(CHANNEL, users[i % 3], f"message {i}", thread_ts=parent_msg.ts)
            human.append(ev["ts"])
    return parent_msg.ts, human


def test_2000_messages_over_pages_with_429s_come_back_complete_ordered_once(fake_slack: FakeSlack) -> None:
    parent_ts, human = big_thread(fake_slack, 2000)
    # 150 per page (the server caps the limit), the parent repeated on every page, 429s mid-way.
    fake_slack.restrict_replies(max_limit=150, min_interval_s=0, parent_on_every_page=True)
    fake_slack.inject("conversations.replies", status=429, retry_after=1, after=3)
    fake_slack.inject("conversations.replies", status=429, retry_after=1, after=9)
    fake_slack.reset_calls()
    messages = fetch_thread(client_for(fake_slack), CHANNEL, parent_ts, limit=500)
    calls = fake_slack.calls("conversations.replies")
    assert len(calls) == 14 + 2  # 2001 messages / 150 per page, plus the two retried 429s
    assert all(c["limit"] == "500" for c in calls)  # an explicit limit on every call
    assert sum(1 for c in calls if "cursor" in c) == len(calls) - 1
    ts_list = [m.ts for m in messages]
    assert len(ts_list) == len(set(ts_list)) == 2001  # parent once, every reply once
    assert ts_list == sorted(ts_list, key=ts_sort_key)
    assert set(human) <= set(ts_list)


def test_a_thread_that_keeps_answering_429_is_unreadable_not_partial(fake_slack: FakeSlack) -> None:
    parent_ts, _ = big_thread(fake_slack, 40)
    fake_slack.restrict_replies(max_limit=15, min_interval_s=0)
    fake_slack.inject("conversations.replies", status=429, retry_after=1, after=1, times=None)
    with pytest.raises(ThreadUnreadable, match="after 1 page"):
        fetch_thread(client_for(fake_slack, retries=1), CHANNEL, parent_ts, limit=15)


def test_not_in_channel_is_a_clear_error(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0SECRET", "secret", members=["U0ALICE"], bot_member=False)
    parent = post(fake_slack.ws, "C0SECRET", text="x")
    with pytest.raises(ThreadUnreadable, match="not_in_channel"):
        fetch_thread(client_for(fake_slack), "C0SECRET", parent.ts)


# -- thread events through the bot, then the record ------------------------------------------------


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings)
    yield b
    b.close()


def dispatch(fake: FakeSlack, bot: RollbackBot, event: dict, retry_num: int | None = None) -> None:  # type: ignore[type-arg]
    req = build_event(fake, signing_secret=SIGNING_SECRET, event=event, retry_num=retry_num)
    assert bot.app.dispatch(req.bolt_request()).status == 200


def test_edits_deletions_and_pins_reach_the_record_once(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    svc = bot.deps.service
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(inc)  # posting is asynchronous: wait for the parent's ts
    parent_ts = wait_for(lambda: svc.get(inc.id).thread_ts, what="the thread")
    kinds = lambda: [e.kind for e in svc.events(inc.id) if e.kind.startswith("thread.")]  # noqa: E731

    first = fake_slack.write_in_thread(CHANNEL, "U0BOB", "DB looks locked", thread_ts=parent_ts)
    dispatch(fake_slack, bot, first)
    dispatch(fake_slack, bot, first, retry_num=1)  # Slack redelivers
    wait_for(lambda: kinds() == ["thread.message"], what="message event")
    second = fake_slack.write_in_thread(CHANNEL, "U0CAROL", "oops wrong channel", thread_ts=parent_ts)
    dispatch(fake_slack, bot, second)
    third = fake_slack.write_in_thread(
        CHANNEL, "U0ALICE", "error log attached", thread_ts=parent_ts, files=[{"id": "F1", "name": "error.log"}]
    )
    dispatch(fake_slack, bot, third)
    edit = fake_slack.edit_as_user(CHANNEL, first["ts"], "DB was locked by the app: stopped it")
    dispatch(fake_slack, bot, edit)
    dispatch(fake_slack, bot, edit, retry_num=1)
    dispatch(fake_slack, bot, fake_slack.delete_as_user(CHANNEL, second["ts"]))
    pin = fake_slack.react_in_thread(CHANNEL, first["ts"], "U0ALICE", "pushpin")
    dispatch(fake_slack, bot, pin)
    dispatch(fake_slack, bot, fake_slack.react_in_thread(CHANNEL, third["ts"], "U0BOB", "eyes"))  # not kept
    wait_for(lambda: len(kinds()) == 6, what="all thread events")
    assert sorted(kinds()) == sorted(
        ["thread.message"] * 3 + ["thread.message_changed", "thread.message_deleted", "thread.reaction_added"]
    )

    thread = fetch_thread(bot.deps.publisher.client, CHANNEL, parent_ts)
    rec = RecordBuilder(svc).build(
        inc.id, thread=thread, own_ids=frozenset({fake_slack.bot_user_id}), names={"U0BOB": "bob"}
    )
    msgs = [e for e in rec.timeline if e.source == "thread"]
    assert [m.ts for m in msgs] == [first["ts"], second["ts"], third["ts"]]  # bot posts are not repeated
    edited, deleted, with_file = msgs
    assert edited.text == "DB was locked by the app: stopped it"
    assert edited.original_text == "DB looks locked" and edited.edited_at is not None
    assert edited.key and edited.actor is not None and edited.actor.name == "bob"
    assert deleted.deleted_at is not None and deleted.text == "" and not deleted.key
    assert with_file.files == ["error.log"] and not with_file.key
    # each bot action appears once: the section messages the bot posted are not in the timeline
    assert not any("Immediate Actions" in e.text for e in rec.timeline)

    # 📌 removed again: no longer a key event
    dispatch(fake_slack, bot, fake_slack.react_in_thread(CHANNEL, first["ts"], "U0ALICE", "pushpin", added=False))
    wait_for(lambda: "thread.reaction_removed" in kinds(), what="reaction removed")
    rec2 = RecordBuilder(svc).build(inc.id, thread=fetch_thread(bot.deps.publisher.client, CHANNEL, parent_ts))
    assert not [e for e in rec2.timeline if e.ts == first["ts"]][0].key


def test_messages_written_while_the_bot_was_down_come_from_the_thread(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    svc = bot.deps.service
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(inc)  # posting is asynchronous: wait for the parent's ts
    parent_ts = wait_for(lambda: svc.get(inc.id).thread_ts, what="the thread")
    missed = fake_slack.write_in_thread(
        CHANNEL, "U0CAROL", "restarted nginx too", thread_ts=parent_ts
    )  # never dispatched
    thread = fetch_thread(bot.deps.publisher.client, CHANNEL, parent_ts)
    rec = RecordBuilder(svc).build(inc.id, thread=thread, own_ids=frozenset({fake_slack.bot_user_id}))
    people = [e for e in rec.timeline if e.source == "thread"]
    assert [(e.text, e.ts, e.actor.id if e.actor else None) for e in people] == [
        ("restarted nginx too", missed["ts"], "U0CAROL")
    ]


def test_cancel_writes_a_short_record_and_a_non_operator_cannot_close(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    svc = bot.deps.service
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(inc)  # posting is asynchronous: wait for the parent's ts
    parent_ts = wait_for(lambda: svc.get(inc.id).thread_ts, what="the thread")

    def press(action: str, user: str) -> None:
        req = build_block_action(
            fake_slack, signing_secret=SIGNING_SECRET, user_id=user, channel_id=CHANNEL, message_ts=parent_ts,
            action_id=action, value="RB-1",
        )  # fmt: skip
        assert bot.app.dispatch(req.bolt_request()).status == 200

    press(ActionId.INCIDENT_CANCEL, "U0CAROL")  # neither the opener nor an operator
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0CAROL"), what="refusal")
    assert svc.get("RB-1").state == "open"
    press(ActionId.INCIDENT_CANCEL, "U0ALICE")  # the opener: a false alarm
    upload = wait_for(lambda: [f for f in fake_slack.files() if f.completed], timeout_s=20, what="short record")[0]
    stored = bot.deps.records.keeper.archive.get("RB-1")
    assert (stored.version, stored.kind, upload.filename) == (1, "short", "RB-1-record-v1.md")
    markdown = (upload.content or b"").decode()
    assert "Short record (cancelled)" in markdown and "Cancelled as a false alarm" in markdown
    assert "## Checklist" not in markdown  # nothing was done: no 49-row table of pending steps
    wait_for(lambda: "incident record v1" in str(fake_slack.message(CHANNEL, parent_ts).blocks), what="record link")
    wait_for(lambda: ActionId.INCIDENT_REOPEN in str(fake_slack.message(CHANNEL, parent_ts).blocks), what="Reopen")
