"""Follow-up tasks through app.dispatch: the dialog, the mention, the reminder (fired on the timers), done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_block_action, build_view_submission
from tests.conftest import SIGNING_SECRET, wait_for
from tests.dispatch.test_rollback_dispatch import CHANNEL, open_incident, resolve_with_dialog

TASK = "followup.investigate"
ZONE = "Europe/Berlin"


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings.model_copy(update={"rollback_time_zone": ZONE}))
    yield b
    b.close()


def press(fake: FakeSlack, bot: RollbackBot, ts: str, action: str, user: str, channel: str = CHANNEL) -> None:
    req = build_block_action(
        fake, signing_secret=SIGNING_SECRET, user_id=user, channel_id=channel, message_ts=ts, action_id=action,
        block_id=f"f|{TASK}",
    )  # fmt: skip
    assert bot.app.dispatch(req.bolt_request()).status == 200


def submit(fake: FakeSlack, bot: RollbackBot, user: str, **edits: str) -> dict:  # type: ignore[type-arg]
    view = wait_for(
        lambda: [v for v in fake.views() if v.view["callback_id"] == "follow_up_assign_modal"], what="dialog"
    )
    req = build_view_submission(fake, signing_secret=SIGNING_SECRET, user_id=user, view_id=view[-1].id, edits=edits)
    resp = bot.app.dispatch(req.bolt_request())
    assert resp.status == 200
    return {} if resp.body in ("", "{}") else json.loads(resp.body)


def test_owner_due_date_reminder_and_done_after_the_incident_is_resolved(
    fake_slack: FakeSlack, bot: RollbackBot
) -> None:
    parent_ts = open_incident(fake_slack, bot)
    resolve_with_dialog(fake_slack, bot, parent_ts, "U0ALICE")
    wait_for(lambda: bot.deps.service.get("RB-1").state == "resolved", what="resolved")
    section_ts = bot.deps.service.section_messages("RB-1")["followup"]
    wait_for(lambda: "Set owner and due date" in str(fake_slack.message(CHANNEL, section_ts).blocks), what="button")

    press(fake_slack, bot, section_ts, ActionId.FOLLOW_UP_ASSIGN, "U0ALICE")
    yesterday = (datetime.now(ZoneInfo(ZONE)) - timedelta(days=1)).date().isoformat()
    errors = submit(fake_slack, bot, "U0ALICE", owner="U0BOB", due_date=yesterday, due_time="10:00")
    assert "is in the past" in errors["errors"]["due_date"]  # shown under the input; nothing stored
    assert bot.deps.follow_ups.items("RB-1") == []

    due_day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=3)).date()
    assert submit(fake_slack, bot, "U0ALICE", owner="U0BOB", due_date=due_day.isoformat(), due_time="10:00") == {}
    item = wait_for(lambda: bot.deps.follow_ups.get("RB-1", TASK), what="assigned")
    assert item.due_at == datetime.combine(due_day, datetime.min.time().replace(hour=10), ZoneInfo(ZONE))
    mention = wait_for(
        lambda: [m for m in fake_slack.thread(CHANNEL, parent_ts) if m.text.startswith("<@U0BOB> owns")], what="mention"
    )[0]
    assert f"due {due_day:%a %Y-%m-%d} 10:00 {ZONE}" in mention.text
    wait_for(
        lambda: "Owner <@U0BOB>" in str(fake_slack.message(CHANNEL, section_ts).blocks), what="section shows owner"
    )

    fired = bot.timers.run_due(item.due_at.astimezone(UTC) + timedelta(seconds=1))  # the due date arrives
    assert fired == [item.timer_key]
    dm = wait_for(lambda: fake_slack.messages("D0BOB"), what="reminder DM")[0]
    assert "Follow-up due: *Investigate root cause* for RB-1" in dm.text
    wait_for(lambda: any("is due now" in m.text for m in fake_slack.thread(CHANNEL, parent_ts)), what="thread reminder")
    assert bot.timers.run_due(item.due_at.astimezone(UTC) + timedelta(days=1)) == []  # fires once

    press(fake_slack, bot, dm.ts, ActionId.FOLLOW_UP_DONE, "U0BOB", channel="D0BOB")
    wait_for(lambda: bot.deps.follow_ups.get("RB-1", TASK).state == "done", what="done")  # type: ignore[union-attr]
    wait_for(lambda: fake_slack.message("D0BOB", dm.ts).blocks == [], what="DM buttons spent")
    assert bot.deps.service.step_state("RB-1", TASK).state == "done"
    wait_for(
        lambda: "block_id': 'f|followup.investigate" not in str(fake_slack.message(CHANNEL, section_ts).blocks),
        what="no more buttons on a done task",
    )
    kinds = [e.kind for e in bot.deps.service.events("RB-1") if e.kind.startswith("follow_up.")]
    assert kinds == ["follow_up.assigned", "follow_up.reminded", "follow_up.done"]
