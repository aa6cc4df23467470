"""End to end over real HTTP: the bot under uvicorn, the fake Slack, signed requests as Slack sends them."""

from __future__ import annotations

import time

import httpx

from app.factory import RollbackBot
from app.server import SLACK_PATH
from app.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import SlackUserDriver, build_block_action
from tests.conftest import SIGNING_SECRET, wait_for
from tests.e2e.http_bot import running_bot

CHANNEL = "C0OPS"


def _section_ts(bot: RollbackBot, section: str) -> str:
    return bot.deps.service.section_messages("RB-1")[section]


def _click_done(driver: SlackUserDriver, bot: RollbackBot, user: str, step_id: str) -> httpx.Response:
    ts = _section_ts(bot, bot.deps.runbook.section_of(step_id).id)
    started = time.monotonic()
    resp = driver.click(user, CHANNEL, ts, ActionId.STEP_DONE, value=f"RB-1|{step_id}")
    assert time.monotonic() - started < 3.0, "Slack needs the ack within 3 s"
    return resp


def test_walk_immediate_actions_double_click_and_restart(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    users = ["U0ALICE", "U0BOB", "U0CAROL"]
    with running_bot(bot_settings, fake_slack) as (bot, driver, _):
        started = time.monotonic()
        resp = driver.slash("U0ALICE", CHANNEL, "production critical media listing returns 500")
        assert resp.status_code == 200 and time.monotonic() - started < 3.0
        parent = wait_for(lambda: fake_slack.messages(CHANNEL), what="parent")[0]
        wait_for(lambda: len(fake_slack.thread(CHANNEL, parent.ts)) == 9, what="notes and sections")

        immediate = [s.id for s, _ in bot.deps.runbook.section("immediate").iter_steps()]
        ts = _section_ts(bot, "immediate")
        # A double click: the same payload (built from the same rendering) arrives twice.
        first = build_block_action(
            fake_slack,
            signing_secret=SIGNING_SECRET,
            user_id=users[0],
            channel_id=CHANNEL,
            message_ts=ts,
            action_id=ActionId.STEP_DONE,
            value=f"RB-1|{immediate[0]}",
        )
        assert driver.send(first).status_code == 200
        assert driver.send(first).status_code == 200
        for user, step_id in zip(users[1:], immediate[1:], strict=True):
            assert _click_done(driver, bot, user, step_id).status_code == 200

        def all_done() -> bool:
            text = str(fake_slack.message(CHANNEL, ts).blocks)
            return all(f"Done by <@{u}>" in text for u in users)

        wait_for(all_done, what="every immediate step shown done with its clicker")
        rendered = fake_slack.render_thread(CHANNEL, parent.ts)
        assert rendered.count("Done by") == 3
        wait_for(lambda: fake_slack.ephemerals(CHANNEL, users[0]), what="ephemeral for the second click")
        done_events = [e for e in bot.deps.service.events("RB-1") if e.kind == "step.done"]
        # once each; clicks acked together are handled concurrently, as Slack may deliver them
        assert sorted(e.step_id for e in done_events) == sorted(immediate)
        wait_for(lambda: "3/49" in str(fake_slack.message(CHANNEL, parent.ts).blocks), what="parent progress")

    # Restart: a new process on the same store continues the incident.
    with running_bot(bot_settings, fake_slack) as (bot2, driver2, _):
        next_step = next(bot2.deps.runbook.section("opt1").iter_steps())[0].id  # its first checklist item
        assert _click_done(driver2, bot2, "U0CAROL", next_step).status_code == 200
        wait_for(lambda: bot2.deps.service.step_state("RB-1", next_step).state == "done", what="click after restart")
        opt1_ts = _section_ts(bot2, "opt1")
        wait_for(lambda: "Done by <@U0CAROL>" in str(fake_slack.message(CHANNEL, opt1_ts).blocks), what="opt1 render")
        assert bot2.deps.service.step_state("RB-1", immediate[0]).actor == "U0ALICE"
        assert len(fake_slack.messages(CHANNEL)) == 1


def test_bad_signature_and_stale_timestamp_get_401_over_http(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    with running_bot(bot_settings, fake_slack) as (bot, driver, url):
        assert driver.slash("U0ALICE", CHANNEL, "", bad_signature=True).status_code == 401
        assert driver.slash("U0ALICE", CHANNEL, "", age_s=301).status_code == 401
        assert driver.slash("U0ALICE", CHANNEL, "", age_s=-301).status_code == 401
        resp = httpx.post(
            url + SLACK_PATH,
            content=b"command=%2Frollback",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 401
        assert bot.deps.service.incidents() == []
        assert fake_slack.calls("chat.postMessage") == []
        # A click with a bad signature changes nothing either.
        assert driver.slash("U0ALICE", CHANNEL, "").status_code == 200
        wait_for(lambda: bot.deps.service.section_messages("RB-1").get("followup"), what="thread")
        step = bot.deps.runbook.section("immediate").steps[0].id
        ts = _section_ts(bot, "immediate")
        r = driver.click("U0BOB", CHANNEL, ts, ActionId.STEP_DONE, value=f"RB-1|{step}", bad_signature=True)
        assert r.status_code == 401
        time.sleep(0.3)
        assert bot.deps.service.step_state("RB-1", step).state == "pending"


def test_healthz(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    with running_bot(bot_settings, fake_slack) as (_, _, url):
        resp = httpx.get(url + "/healthz")
        assert resp.status_code == 200 and resp.json() == {"ok": True, "open_incidents": 0}
