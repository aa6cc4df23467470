"""Dispatch tier: signed requests through ``app.dispatch``, Web API calls answered by the fake."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_block_action, build_slash_command, build_view_submission
from tests.conftest import SIGNING_SECRET, wait_for

CHANNEL = "C0OPS"


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings)
    yield b
    b.close()


def slash(fake: FakeSlack, bot: RollbackBot, text: str, user: str = "U0ALICE"):  # type: ignore[no-untyped-def]
    req = build_slash_command(fake, signing_secret=SIGNING_SECRET, user_id=user, channel_id=CHANNEL, text=text)
    return bot.app.dispatch(req.bolt_request())


def click(fake: FakeSlack, bot: RollbackBot, ts: str, action: str, value: str, user: str = "U0BOB"):  # type: ignore[no-untyped-def]
    req = build_block_action(
        fake,
        signing_secret=SIGNING_SECRET,
        user_id=user,
        channel_id=CHANNEL,
        message_ts=ts,
        action_id=action,
        value=value,
    )
    return bot.app.dispatch(req.bolt_request())


def resolve_with_dialog(fake: FakeSlack, bot: RollbackBot, parent_ts: str, user: str, **edits: str) -> None:
    """Resolve on the parent opens the dialog; submit it (with ``edits``) as Slack would."""
    before = {v.id for v in fake.views()}
    assert click(fake, bot, parent_ts, ActionId.INCIDENT_RESOLVE, "RB-1", user=user).status == 200
    view = wait_for(lambda: [v for v in fake.views() if v.id not in before], what="Resolve dialog")[0]
    req = build_view_submission(fake, signing_secret=SIGNING_SECRET, user_id=user, view_id=view.id, edits=edits)
    resp = bot.app.dispatch(req.bolt_request())
    assert resp.status == 200 and resp.body in ("", "{}"), resp.body


def open_incident(fake: FakeSlack, bot: RollbackBot, text: str = "production critical media 500s") -> str:
    resp = slash(fake, bot, text)
    assert resp.status == 200
    sections = len(bot.deps.runbook.sections)
    parent = wait_for(lambda: fake.messages(CHANNEL), what="parent message")[0]
    # parent, the pinned incident notes, one message per section (and paging replies, if any)
    wait_for(lambda: len(fake.thread(CHANNEL, parent.ts)) >= sections + 2, what="section messages")
    # the last section's ts is stored right after its post returns
    wait_for(lambda: len(bot.deps.service.section_messages("RB-1")) == sections, what="section ts stored")
    return parent.ts


def test_rollback_opens_incident_parent_and_one_message_per_section(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    resp = slash(fake_slack, bot, "production major media listing 500s")
    assert resp.status == 200
    assert "Opening RB-1" in resp.body
    parent = wait_for(lambda: fake_slack.messages(CHANNEL), what="parent")[0]
    thread = wait_for(lambda: (t := fake_slack.thread(CHANNEL, parent.ts)) and len(t) == 9 and t, what="7 sections")
    flat = str(parent.blocks)
    for needle in ("RB-1", "major", "target 1 h", "<@U0ALICE>", "media listing 500s", "production"):
        assert needle in flat
    assert thread[1].blocks[0]["text"]["text"] == ":memo: Incident notes: RB-1"
    assert fake_slack.pins(CHANNEL) == [thread[1].ts]  # the notes are pinned
    headers = [m.blocks[0]["text"]["text"] for m in thread[2:]]
    assert headers[0] == "Immediate Actions"
    assert any("if option 1 fails" in h for h in headers) and any("if both fail" in h for h in headers)
    incident = bot.deps.service.get("RB-1")
    assert incident.thread_ts == parent.ts and incident.severity == "major" and incident.target_minutes == 60
    # the last section's ts is stored right after its post returns
    wanted = {s.id for s in bot.deps.runbook.sections}
    wait_for(lambda: set(bot.deps.service.section_messages("RB-1")) == wanted, what="section ts stored")


@pytest.mark.parametrize("text", ["urgent", "production sev1 broken", "staging critical"])
def test_bad_text_gets_usage_and_no_incident(fake_slack: FakeSlack, bot: RollbackBot, text: str) -> None:
    resp = slash(fake_slack, bot, text)
    assert resp.status == 200
    assert "Usage: `/rollback [drill] [environment] [severity] [summary]`" in resp.body
    assert bot.deps.service.incidents() == []
    assert fake_slack.calls("chat.postMessage") == []


def test_second_rollback_for_same_environment_points_at_the_open_one(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    open_incident(fake_slack, bot)
    resp = slash(fake_slack, bot, "production minor again", user="U0CAROL")
    assert "RB-1 is already open for `production`" in resp.body
    assert "no new incident was opened" in resp.body
    assert [i.id for i in bot.deps.service.incidents()] == ["RB-1"]
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_done_click_updates_the_section_in_place_and_records_who(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    parent_ts = open_incident(fake_slack, bot)
    section_ts = bot.deps.service.section_messages("RB-1")["immediate"]
    step = bot.deps.runbook.section("immediate").steps[0]
    before = len(fake_slack.thread(CHANNEL, parent_ts))
    resp = click(fake_slack, bot, section_ts, ActionId.STEP_DONE, f"RB-1|{step.id}")
    assert resp.status == 200
    msg = wait_for(
        lambda: (m := fake_slack.message(CHANNEL, section_ts)) and "Done by <@U0BOB>" in str(m.blocks) and m,
        what="section update",
    )
    assert msg.edit_count >= 1
    assert len(fake_slack.thread(CHANNEL, parent_ts)) == before  # updated in place, nothing new posted
    state = bot.deps.service.step_state("RB-1", step.id)
    assert (state.state, state.actor) == ("done", "U0BOB")
    assert [e.kind for e in bot.deps.service.events("RB-1") if e.step_id == step.id] == ["step.done"]


def test_double_click_gives_one_transition_and_an_ephemeral(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    open_incident(fake_slack, bot)
    section_ts = bot.deps.service.section_messages("RB-1")["immediate"]
    step = bot.deps.runbook.section("immediate").steps[1]
    first = build_block_action(
        fake_slack,
        signing_secret=SIGNING_SECRET,
        user_id="U0BOB",
        channel_id=CHANNEL,
        message_ts=section_ts,
        action_id=ActionId.STEP_DONE,
        value=f"RB-1|{step.id}",
    )
    assert bot.app.dispatch(first.bolt_request()).status == 200
    assert bot.app.dispatch(first.bolt_request()).status == 200  # the same click delivered twice
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0BOB"), what="ephemeral")
    assert [e.kind for e in bot.deps.service.events("RB-1") if e.step_id == step.id] == ["step.done"]
    assert "already done" in fake_slack.ephemerals(CHANNEL, "U0BOB")[0].text


def test_choose_option_is_recorded(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    open_incident(fake_slack, bot)
    opt2_ts = bot.deps.service.section_messages("RB-1")["opt2"]
    click(fake_slack, bot, opt2_ts, ActionId.OPTION_CHOOSE, "RB-1|option:2")
    wait_for(lambda: bot.deps.service.get("RB-1").chosen_option == 2, what="option chosen")
    events = [e for e in bot.deps.service.events("RB-1") if e.kind == "option.chosen"]
    assert len(events) == 1 and events[0].actor == "U0BOB"
    wait_for(lambda: "Option 2 is the chosen path" in str(fake_slack.message(CHANNEL, opt2_ts).blocks), what="render")


def test_bad_signature_is_rejected_and_changes_nothing(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    req = build_slash_command(fake_slack, signing_secret=SIGNING_SECRET, user_id="U0ALICE", channel_id=CHANNEL, text="")
    resp = bot.app.dispatch(req.with_bad_signature().bolt_request())
    assert resp.status == 401
    assert bot.deps.service.incidents() == []


def test_slack_refusing_the_post_cancels_the_incident_and_says_why(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    fake_slack.inject("chat.postMessage", error="not_in_channel", times=1)
    slash(fake_slack, bot, "")
    wait_for(lambda: bot.deps.service.incidents() and bot.deps.service.get("RB-1").state == "cancelled", what="cancel")
    eph = wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0ALICE"), what="ephemeral")
    assert "not_in_channel" in eph[0].text and "cancelled" in eph[0].text
    # the environment is free again
    assert slash(fake_slack, bot, "").status == 200
    wait_for(lambda: bot.deps.service.open_for("production") is not None, what="new incident")


def test_rate_limited_post_is_retried(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    fake_slack.inject("chat.postMessage", status=429, retry_after=1, times=1)
    open_incident(fake_slack, bot)
    assert bot.deps.service.get("RB-1").thread_ts is not None


def test_form_fields_reach_the_listener_unchanged(fake_slack: FakeSlack) -> None:
    req = build_slash_command(
        fake_slack, signing_secret=SIGNING_SECRET, user_id="U0ALICE", channel_id=CHANNEL, text="a b"
    )
    assert parse_qs(req.body)["text"] == ["a b"]
