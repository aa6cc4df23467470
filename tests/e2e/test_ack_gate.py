"""The HTTP ack gate (app/ack_gate.py) over real HTTP: clicks and /rollback are answered before bolt's
dispatch, with the same bytes bolt would send; what was acked is never dropped on a clean stop."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from slack_bolt import BoltRequest, BoltResponse

from app.factory import create_app
from app.server import SLACK_PATH
from app.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import SlackUserDriver, build_block_action, build_slash_command, sign
from tests.conftest import SIGNING_SECRET, wait_for
from tests.e2e.http_bot import running_bot, serving

CHANNEL = "C0OPS"


def _open(bot: Any, driver: SlackUserDriver, fake: FakeSlack) -> str:
    assert driver.slash("U0ALICE", CHANNEL, "production critical").status_code == 200
    wait_for(lambda: len(bot.deps.service.section_messages("RB-1")) == len(bot.deps.runbook.sections), what="thread")
    return str(bot.deps.service.section_messages("RB-1")["immediate"])


def test_a_click_is_acked_while_bolt_is_still_busy(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    bot = create_app(bot_settings)
    release = threading.Event()
    real = bot.gate.app.dispatch  # the app that handles clicks the gate has acked

    def held_dispatch(req: BoltRequest) -> BoltResponse:
        if req.body.get("type") == "block_actions":
            assert release.wait(20)
        return real(req)

    bot.gate.app.dispatch = held_dispatch  # type: ignore[method-assign]
    with serving(bot, fake_slack) as (driver, _):
        try:
            ts = _open(bot, driver, fake_slack)
            step = bot.deps.runbook.section("immediate").steps[0].id
            resp = driver.click("U0BOB", CHANNEL, ts, ActionId.STEP_DONE, value=f"RB-1|{step}")
            # The ack left while bolt had not even started on the click: an empty 200, as bolt's ack() sends.
            assert resp.status_code == 200 and resp.content == b""
            assert bot.deps.service.step_state("RB-1", step).state == "pending"
            release.set()
            wait_for(lambda: bot.deps.service.step_state("RB-1", step).state == "done", what="click handled")
        finally:
            release.set()  # before the bot closes: closing finishes the held click


def test_rollback_acks_with_the_text_bolt_would_send(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    with running_bot(bot_settings, fake_slack) as (bot, driver, _):
        cases = ["nonsense-env critical", "production critical", "production minor"]
        over_http = [driver.slash("U0ALICE", CHANNEL, text) for text in cases]
        assert [r.status_code for r in over_http] == [200, 200, 200]
        assert over_http[0].text.startswith(":warning:") and "usage" in over_http[0].text.lower()
        assert over_http[1].text.startswith(":rotating_light: Opening RB-1")
        assert "RB-1 is already open" in over_http[2].text
        # bolt's own dispatch of the same command gives the same status, content type and body
        req = build_slash_command(
            fake_slack, signing_secret=SIGNING_SECRET, user_id="U0ALICE", channel_id=CHANNEL, text=cases[2]
        )
        via_bolt = bot.app.dispatch(req.bolt_request())
        assert via_bolt.status == 200 and via_bolt.body == over_http[2].text
        assert over_http[2].headers["content-type"].startswith(via_bolt.headers["content-type"][0])
        # what follows the ack still happens: the thread is posted and the opener is paged/reminded
        wait_for(lambda: bot.deps.service.get("RB-1").thread_ts, what="thread posted after the early ack")


@pytest.mark.parametrize("tamper", ["signature", "stale"])
def test_an_unverified_click_gets_bolts_401_and_changes_nothing(
    bot_settings: Settings, fake_slack: FakeSlack, tamper: str
) -> None:
    with running_bot(bot_settings, fake_slack) as (bot, driver, url):
        ts = _open(bot, driver, fake_slack)
        step = bot.deps.runbook.section("immediate").steps[0].id
        req = build_block_action(
            fake_slack, signing_secret=SIGNING_SECRET, user_id="U0BOB", channel_id=CHANNEL,
            message_ts=ts, action_id=ActionId.STEP_DONE, value=f"RB-1|{step}",
        )  # fmt: skip
        headers = dict(req.headers)
        if tamper == "signature":
            headers["x-slack-signature"] = "v0=" + "0" * 64
        else:  # signed correctly, but 301 s ago: bolt's verifier allows 300 s
            stale = int(headers["x-slack-request-timestamp"]) - 301
            headers.update(sign(req.body, SIGNING_SECRET, timestamp=stale))
        resp = httpx.post(url + SLACK_PATH, content=req.body.encode(), headers=headers, trust_env=False)
        assert resp.status_code == 401 and resp.json() == {"error": "invalid request"}
        bot.drain()  # had the click been queued, it would be handled by now
        assert bot.deps.service.step_state("RB-1", step).state == "pending"


def test_clicks_acked_before_a_stop_are_all_handled(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    """Nothing acked is lost: drain() finishes the queued clicks; after it, clicks get 503, not a silent 200."""
    with running_bot(bot_settings, fake_slack) as (bot, driver, _):
        ts = _open(bot, driver, fake_slack)
        steps = [s.id for s, _ in bot.deps.runbook.section("immediate").iter_steps()]
        other = bot.deps.runbook.section("post")
        other_step = next(s.id for s, _ in other.iter_steps() if s.kind == "manual")
        late = build_block_action(
            fake_slack, signing_secret=SIGNING_SECRET, user_id="U0BOB", channel_id=CHANNEL,
            message_ts=bot.deps.service.section_messages("RB-1")[other.id], action_id=ActionId.STEP_DONE,
            value=f"RB-1|{other_step}",
        )  # fmt: skip
        for step in steps:
            assert driver.click("U0BOB", CHANNEL, ts, ActionId.STEP_DONE, value=f"RB-1|{step}").status_code == 200
        bot.drain()
        assert [bot.deps.service.step_state("RB-1", s).state for s in steps] == ["done"] * len(steps)
        assert driver.send(late).status_code == 503
        assert bot.deps.service.step_state("RB-1", other_step).state == "pending"
