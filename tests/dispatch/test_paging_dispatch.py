"""Paging through app.dispatch with the fake Slack: DMs, thread notes, parent states, acks, resolve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_block_action
from tests.conftest import SIGNING_SECRET, wait_for
from tests.dispatch.test_rollback_dispatch import CHANNEL, open_incident, resolve_with_dialog

CONTACTS = """
roles:
  development_lead: {name: Development lead, users: [U0ALICE], backups: [U0BOB]}
  devops_lead: {name: DevOps lead, usergroup: S0ONCALL}
  product_manager:
    name: Product manager
    users: [U0BOB]
    availability: {days: [sat], start: "00:00", end: "00:01", tz: Pacific/Auckland}
severities:
  critical: {roles: [development_lead, devops_lead, product_manager], ack_timeout_minutes: 5}
"""


@pytest.fixture
def paging_bot(bot_settings: Settings, tmp_path: Path) -> Iterator[RollbackBot]:
    path = tmp_path / "contacts.yaml"
    path.write_text(CONTACTS)
    b = create_app(bot_settings.model_copy(update={"rollback_contacts_path": path}))
    yield b
    b.close()


def click_in(fake: FakeSlack, bot: RollbackBot, channel: str, ts: str, value: str, user: str) -> int:
    req = build_block_action(
        fake,
        signing_secret=SIGNING_SECRET,
        user_id=user,
        channel_id=channel,
        message_ts=ts,
        action_id=ActionId.PAGE_ACK,
        value=value,
    )
    return bot.app.dispatch(req.bolt_request()).status


def _dm_channels(fake: FakeSlack) -> list[str]:
    return [str(c["channel"]) for c in fake.calls("chat.postMessage") if str(c["channel"]).startswith("D")]


def test_open_pages_each_role_by_dm_and_the_thread_says_who(fake_slack: FakeSlack, paging_bot: RollbackBot) -> None:
    parent_ts = open_incident(fake_slack, paging_bot)
    wait_for(
        lambda: any("Paging the team" in m.text + str(m.blocks) for m in fake_slack.thread(CHANNEL, parent_ts)),
        what="paging note",
    )
    users = sorted(str(c["users"]) for c in fake_slack.calls("conversations.open"))
    assert users == ["U0ALICE", "U0ALICE", "U0CAROL"]  # Alice as dev lead and on call, Carol on call; Bob asleep
    assert len(_dm_channels(fake_slack)) == 3  # Alice twice (two roles), Carol once
    dm = fake_slack.messages(_dm_channels(fake_slack)[0])[0]
    flat = str(dm.blocks)
    assert "you are paged as Development lead" in flat and "<!date^" in flat and "production" in flat
    ack_buttons = [e for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert ack_buttons[0]["action_id"] == ActionId.PAGE_ACK and ack_buttons[0]["value"] == "RB-1|development_lead"
    note = next(m for m in fake_slack.thread(CHANNEL, parent_ts) if "Paging the team" in str(m.blocks))
    text = str(note.blocks)
    assert "Development lead: paged <@U0ALICE>" in text and "DevOps lead: paged <@U0ALICE>, <@U0CAROL>" in text
    assert "<@U0BOB> is outside business hours" in text and "Pacific/Auckland" in text
    wait_for(
        lambda: ":bell: *Development lead*: paged <@U0ALICE>" in str(fake_slack.message(CHANNEL, parent_ts).blocks),
        what="parent role states",
    )
    parent = fake_slack.message(CHANNEL, parent_ts)
    assert ":zzz: *Product manager*: waiting (next page at <!date^" in str(parent.blocks)
    step = paging_bot.deps.service.step_state("RB-1", "immediate.alert-team")
    assert step.state == "done" and "DevOps lead: <@U0ALICE>, <@U0CAROL>" in (step.note or "")


def test_ack_from_the_dm_updates_dm_thread_and_parent_and_a_second_click_changes_nothing(
    fake_slack: FakeSlack, paging_bot: RollbackBot
) -> None:
    parent_ts = open_incident(fake_slack, paging_bot)
    wait_for(lambda: len(_dm_channels(fake_slack)) == 3, what="three DMs")
    dm_channel = _dm_channels(fake_slack)[0]
    dm = fake_slack.messages(dm_channel)[0]
    assert click_in(fake_slack, paging_bot, dm_channel, dm.ts, "RB-1|development_lead", "U0ALICE") == 200
    wait_for(lambda: paging_bot.deps.paging.ack("RB-1", "development_lead"), what="ack recorded")
    wait_for(
        lambda: "Acknowledged by you at" in str(fake_slack.message(dm_channel, dm.ts).blocks),
        what="DM turned acknowledged",
    )
    wait_for(
        lambda: any("acknowledged Development lead" in m.text for m in fake_slack.thread(CHANNEL, parent_ts)),
        what="thread reply",
    )
    wait_for(
        lambda: (
            ":white_check_mark: *Development lead*: acknowledged by <@U0ALICE>"
            in str(fake_slack.message(CHANNEL, parent_ts).blocks)
        ),
        what="parent role state",
    )
    note = next(m for m in fake_slack.thread(CHANNEL, parent_ts) if "Paging the team" in str(m.blocks))
    click_in(fake_slack, paging_bot, CHANNEL, note.ts, "RB-1|development_lead", "U0BOB")  # the thread's button
    wait_for(lambda: fake_slack.ephemerals(user="U0BOB"), what="ephemeral to the second clicker")
    assert "already acknowledged by <@U0ALICE>" in fake_slack.ephemerals(user="U0BOB")[0].text
    events = [e.kind for e in paging_bot.deps.service.events("RB-1")]
    assert events.count("page.acked") == 1
    assert not [t for t in paging_bot.timers.pending("RB-1") if t.payload.get("role") == "development_lead"]


def test_resolve_cancels_every_paging_timer(fake_slack: FakeSlack, paging_bot: RollbackBot) -> None:
    parent_ts = open_incident(fake_slack, paging_bot)
    wait_for(lambda: {t.kind for t in paging_bot.timers.pending("RB-1")} >= {"escalate", "deferred_page"}, what="armed")
    resolve_with_dialog(fake_slack, paging_bot, parent_ts, "U0ALICE")
    wait_for(lambda: paging_bot.deps.service.get("RB-1").state == "resolved", what="resolved")
    wait_for(lambda: paging_bot.timers.pending("RB-1") == [], what="timers cancelled")
    dm = _dm_channels(fake_slack)[0]
    wait_for(lambda: "no acknowledgement needed" in fake_slack.messages(dm)[0].text, what="the page DM says it is over")
    assert not [b for b in fake_slack.messages(dm)[0].blocks if b["type"] == "actions"]
    assert paging_bot.timers.scheduler is not None and paging_bot.timers.scheduler.get_jobs() == []


def test_without_contacts_the_parent_says_nobody_was_paged(fake_slack: FakeSlack, bot_settings: Settings) -> None:
    bot = create_app(bot_settings)
    try:
        parent_ts = open_incident(fake_slack, bot)
        wait_for(lambda: "Nobody was paged" in str(fake_slack.message(CHANNEL, parent_ts).blocks), what="nobody line")
        assert "no contacts file is configured" in str(fake_slack.message(CHANNEL, parent_ts).blocks)
        assert fake_slack.calls("conversations.open") == []
    finally:
        bot.close()


def test_two_concurrent_acks_through_slack_record_one_and_tell_the_other(
    fake_slack: FakeSlack, paging_bot: RollbackBot
) -> None:
    parent_ts = open_incident(fake_slack, paging_bot)
    note = wait_for(
        lambda: next((m for m in fake_slack.thread(CHANNEL, parent_ts) if "Paging the team" in str(m.blocks)), None),
        what="paging note",
    )
    barrier = threading.Barrier(2)

    def ack(user: str) -> None:
        barrier.wait()
        click_in(fake_slack, paging_bot, CHANNEL, note.ts, "RB-1|devops_lead", user)

    threads = [threading.Thread(target=ack, args=(u,)) for u in ("U0ALICE", "U0CAROL")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: fake_slack.ephemerals(), what="the loser is told")
    wait_for(
        lambda: any("acknowledged DevOps lead" in m.text for m in fake_slack.thread(CHANNEL, parent_ts)),
        what="the winner's reply",
    )
    ack_row = paging_bot.deps.paging.ack("RB-1", "devops_lead")
    assert ack_row is not None
    replies = [m for m in fake_slack.thread(CHANNEL, parent_ts) if "acknowledged DevOps lead" in m.text]
    assert len(replies) == 1 and f"<@{ack_row.acked_by}>" in replies[0].text
    (told,) = fake_slack.ephemerals()
    assert told.user != ack_row.acked_by and f"already acknowledged by <@{ack_row.acked_by}>" in told.text
    assert [e.kind for e in paging_bot.deps.service.events("RB-1")].count("page.acked") == 1
