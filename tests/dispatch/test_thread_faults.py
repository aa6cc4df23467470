"""Dispatch tier, faults at the Slack edge: hostile text, crafted click values, posts that time out
or are refused, edits that fail; the thread converges on the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from app.factory import RollbackBot, build_client, create_app
from app.settings import AgentTarget, Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import SignedRequest, build_block_action, build_slash_command, sign
from tests.conftest import SIGNING_SECRET, wait_for
from tests.unit.bot.test_jobs import FakeAgents, FakeClient

CHANNEL = "C0OPS"
INJECTIONS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S0ONCALL>", "<@U0BOB>", "<https://evil.example|docs>")


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings)
    yield b
    b.close()


def slash(fake: FakeSlack, bot: RollbackBot, text: str, user: str = "U0ALICE") -> str:
    req = build_slash_command(fake, signing_secret=SIGNING_SECRET, user_id=user, channel_id=CHANNEL, text=text)
    resp = bot.app.dispatch(req.bolt_request())
    assert resp.status == 200
    return str(resp.body)


def thread_of(fake: FakeSlack, bot: RollbackBot, incident_id: str) -> list:  # type: ignore[type-arg]
    sections = len(bot.deps.runbook.sections)
    ts = wait_for(lambda: bot.deps.service.get(incident_id).thread_ts, what="parent posted")
    # the parent, the pinned incident notes and one message per section
    return wait_for(lambda: (t := fake.thread(CHANNEL, ts)) and len(t) == sections + 2 and t, what="sections")


def test_typed_text_cannot_ping_or_disguise_a_link(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    summary = "media 500s " + " ".join(INJECTIONS) + " & more"
    slash(fake_slack, bot, f"production critical {summary}")
    parent = thread_of(fake_slack, bot, "RB-1")[0]
    posted = json.dumps(parent.blocks) + parent.text
    for raw in INJECTIONS:
        assert raw not in posted, raw
        assert raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in posted
    assert "&amp; more" in posted
    assert bot.deps.service.get("RB-1").summary == summary  # the store keeps what was typed
    # a usage error that echoes the typed word escapes it too
    body = slash(fake_slack, bot, "<!channel> critical")
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body


def test_a_backup_name_that_looks_like_a_ping_is_shown_as_text(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    slash(fake_slack, bot, "")
    thread_of(fake_slack, bot, "RB-1")
    bot.deps.service.choose_backup("RB-1", "<!here>.db", "U0BOB")
    bot.deps.service.transition("RB-1", "opt2.identify-backup", "done", "U0BOB", note="chose <!here>.db")
    bot.deps.publisher.refresh_section("RB-1", "opt2")
    ts = bot.deps.service.section_messages("RB-1")["opt2"]
    text = wait_for(
        lambda: (s := json.dumps(fake_slack.message(CHANNEL, ts).blocks)) and "chose" in s and s, what="render"
    )
    assert "<!here>" not in text and "&lt;!here&gt;.db" in text


def _crafted_click(fake: FakeSlack, message_ts: str, action_id: str, real_value: str, value: str) -> SignedRequest:
    """A real click on a button of ``message_ts`` whose value was swapped for another incident's."""
    req = build_block_action(
        fake,
        signing_secret=SIGNING_SECRET,
        user_id="U0CAROL",
        channel_id=CHANNEL,
        message_ts=message_ts,
        action_id=action_id,
        value=real_value,
    )
    payload = req.payload
    payload["actions"][0]["value"] = value
    body = "payload=" + quote(json.dumps(payload))
    return SignedRequest(body=body, headers=sign(body, SIGNING_SECRET), payload=payload)


@pytest.fixture
def two_env_bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    agents = {"staging": AgentTarget(url="http://127.0.0.1:9", secret="unused-agent-secret")}
    b = create_app(bot_settings.model_copy(update={"rollback_agents": agents}))
    yield b
    b.close()


def test_a_click_value_from_another_incident_is_refused_and_recorded(
    fake_slack: FakeSlack, two_env_bot: RollbackBot
) -> None:
    bot = two_env_bot
    slash(fake_slack, bot, "production critical")
    slash(fake_slack, bot, "staging critical")
    thread_of(fake_slack, bot, "RB-1")
    thread_of(fake_slack, bot, "RB-2")
    step = bot.deps.runbook.section("immediate").steps[0].id
    rb1_section = bot.deps.service.section_messages("RB-1")["immediate"]
    req = _crafted_click(fake_slack, rb1_section, ActionId.STEP_DONE, f"RB-1|{step}", f"RB-2|{step}")
    assert bot.app.dispatch(req.bolt_request()).status == 200
    eph = wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0CAROL"), what="refusal")
    assert "Refused" in eph[0].text and "RB-1" in eph[0].text
    for incident in ("RB-1", "RB-2"):
        assert bot.deps.service.step_state(incident, step).state == "pending"
        refused = [e for e in bot.deps.service.events(incident) if e.kind == "click.refused"]
        assert len(refused) == 1 and refused[0].actor == "U0CAROL"
        assert refused[0].data["claimed_incident"] == "RB-2" and refused[0].data["origin_incident"] == "RB-1"
    # the same for the parent's Cancel button: RB-1's parent can't cancel RB-2
    rb1_parent = bot.deps.service.get("RB-1").thread_ts
    assert rb1_parent is not None
    req = _crafted_click(fake_slack, rb1_parent, ActionId.INCIDENT_CANCEL, "RB-1", "RB-2")
    assert bot.app.dispatch(req.bolt_request()).status == 200
    wait_for(lambda: len(fake_slack.ephemerals(CHANNEL, "U0CAROL")) == 2, what="second refusal")
    assert bot.deps.service.get("RB-2").state == "open" and bot.deps.service.get("RB-1").state == "open"
    # and the genuine click still works
    req = build_block_action(
        fake_slack,
        signing_secret=SIGNING_SECRET,
        user_id="U0BOB",
        channel_id=CHANNEL,
        message_ts=rb1_section,
        action_id=ActionId.STEP_DONE,
        value=f"RB-1|{step}",
    )
    assert bot.app.dispatch(req.bolt_request()).status == 200
    wait_for(lambda: bot.deps.service.step_state("RB-1", step).state == "done", what="genuine click")


def test_a_timed_out_post_is_looked_up_not_posted_twice(fake_slack: FakeSlack, bot_settings: Settings) -> None:
    client = build_client(bot_settings)
    client.timeout = 1  # the post client copies it: a 3 s answer is a timeout after Slack stored it
    bot = create_app(bot_settings, client=client)
    publisher = bot.deps.publisher
    try:
        fake_slack.inject("chat.postMessage", delay_s=3.0, times=1)  # the parent: stored, answer lost
        slash(fake_slack, bot, "")
        parent = wait_for(lambda: fake_slack.messages(CHANNEL), what="parent stored by Slack")[0]
        assert publisher.queue.wait_idle(20)
        assert bot.deps.service.get("RB-1").thread_ts is None  # the bot does not know it yet
        fake_slack.inject("chat.postMessage", delay_s=3.0, times=1)  # and the first reply times out too
        bot.reconciler.run_once()
        wait_for(lambda: bot.deps.service.get("RB-1").thread_ts == parent.ts, what="parent found by lookup")
        assert publisher.queue.wait_idle(20)
        # The reply is in doubt and Slack has not stored it yet: looking again must not post it.
        bot.reconciler.run_once()
        assert publisher.queue.wait_idle(20)
        immediate = bot.deps.runbook.sections[0].title

        def slow_reply_stored() -> bool:
            return any(m.blocks[0]["text"]["text"] == immediate for m in fake_slack.thread(CHANNEL, parent.ts)[1:])

        wait_for(slow_reply_stored, what="Slack storing the slow reply")
        bot.reconciler.run_once()  # now the lookup finds it, and the rest is posted
        thread_of(fake_slack, bot, "RB-1")
        assert publisher.queue.wait_idle(20)
        assert len(fake_slack.messages(CHANNEL)) == 1, "one parent"
        replies = [m.blocks[0]["text"]["text"] for m in fake_slack.thread(CHANNEL, parent.ts)[1:]]
        headers = [h for h in replies if not h.startswith(":memo: Incident notes")]  # the pinned notes, once
        assert len(replies) == len(headers) + 1
        assert len(headers) == len(set(headers)) == len(bot.deps.runbook.sections), headers
        assert set(bot.deps.service.section_messages("RB-1")) == {s.id for s in bot.deps.runbook.sections}
        assert [
            e.data.get("found_by_lookup") for e in bot.deps.service.events("RB-1") if e.kind == "slack.thread_posted"
        ] == [True]
    finally:
        bot.close()


def test_an_in_doubt_post_slack_never_stored_is_posted_once_after_the_grace(
    fake_slack: FakeSlack, bot: RollbackBot
) -> None:
    publisher = bot.deps.publisher
    fake_slack.inject("chat.postMessage", status=503, times=1)  # a 5xx: it may or may not have been posted
    slash(fake_slack, bot, "")
    assert publisher.queue.wait_idle(20)
    bot.reconciler.run_once()
    assert publisher.queue.wait_idle(20)
    assert fake_slack.messages(CHANNEL) == [], "in doubt and within the grace: not posted again yet"
    publisher.in_doubt_grace_s = 0  # as if a minute had passed without Slack showing it
    bot.reconciler.run_once()
    thread_of(fake_slack, bot, "RB-1")
    assert publisher.queue.wait_idle(20)
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_a_cancel_while_edits_fail_reaches_the_parent_on_the_next_pass(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    slash(fake_slack, bot, "")
    parent = thread_of(fake_slack, bot, "RB-1")[0]
    fake_slack.inject("chat.update", error="internal_error", times=None)
    req = build_block_action(
        fake_slack,
        signing_secret=SIGNING_SECRET,
        user_id="U0ALICE",
        channel_id=CHANNEL,
        message_ts=parent.ts,
        action_id=ActionId.INCIDENT_CANCEL,
        value="RB-1",
    )
    assert bot.app.dispatch(req.bolt_request()).status == 200
    wait_for(lambda: bot.deps.service.get("RB-1").state == "cancelled", what="cancelled")
    bot.deps.publisher.queue.wait_idle(20)
    assert "Cancel incident" in json.dumps(fake_slack.message(CHANNEL, parent.ts).blocks)  # still the old render
    fake_slack.clear_injections()
    bot.reconciler.run_once()
    wait_for(
        lambda: "cancelled by" in json.dumps(fake_slack.message(CHANNEL, parent.ts).blocks), what="parent re-rendered"
    )
    section = bot.deps.service.section_messages("RB-1")["immediate"]
    wait_for(lambda: "step_done" not in json.dumps(fake_slack.message(CHANNEL, section).blocks), what="frozen sections")
    # the record, written after the cancel, links from the parent (slow on a loaded machine)
    wait_for(lambda: "incident record v1" in json.dumps(fake_slack.message(CHANNEL, parent.ts).blocks), what="record")
    # a second pass with nothing stale costs no API call
    bot.deps.publisher.queue.wait_idle(20)
    fake_slack.reset_calls()
    bot.reconciler.run_once()
    bot.deps.publisher.queue.wait_idle(20)
    assert fake_slack.calls("chat.update") == [] and fake_slack.calls("chat.postMessage") == []


class _PostThenDrop:
    """A client whose chat.postMessage dies around the call: after Slack stored it, or before."""

    def __init__(self, real: object, *, stored: bool) -> None:
        self.real, self.stored = real, stored

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def chat_postMessage(self, **kwargs: object) -> object:  # noqa: N802 (the WebClient method's name)
        if self.stored:
            self.real.chat_postMessage(**kwargs)  # type: ignore[attr-defined]
        raise TimeoutError("the connection dropped")


def _notes_in(fake: FakeSlack, parent_ts: str) -> list[str]:
    return [m.ts for m in fake.thread(CHANNEL, parent_ts)[1:] if m.text.startswith("Incident notes")]


@pytest.mark.parametrize("stored", [True, False], ids=["slack-stored-it", "slack-never-saw-it"])
def test_notes_whose_post_was_in_doubt_go_up_once(fake_slack: FakeSlack, bot: RollbackBot, stored: bool) -> None:
    notes = bot.deps.notes
    real = notes.client
    notes.client = _PostThenDrop(real, stored=stored)  # type: ignore[assignment]
    slash(fake_slack, bot, "")
    parent_ts = wait_for(lambda: bot.deps.service.get("RB-1").thread_ts, what="parent posted")
    wait_for(lambda: len(bot.deps.service.section_messages("RB-1")) == len(bot.deps.runbook.sections), what="sections")
    assert bot.deps.publisher.queue.wait_idle(20)
    notes.client = real
    # The publisher's pass asks for the notes again once the sections are up, and a reconcile pass
    # does too: within the grace the earlier post is looked up, never sent again blindly.
    bot.reconciler.run_once()
    assert bot.deps.publisher.queue.wait_idle(20)
    if not stored:
        assert _notes_in(fake_slack, parent_ts) == [] and notes.notes_ts("RB-1") is None
        notes.in_doubt_grace_s = 0  # as if a minute had passed without Slack showing them
        bot.reconciler.run_once()
        assert bot.deps.publisher.queue.wait_idle(20)
    found = _notes_in(fake_slack, parent_ts)
    assert len(found) == 1 and notes.notes_ts("RB-1") == found[0]
    posted = [e.data.get("found_by_lookup") for e in bot.deps.service.events("RB-1") if e.kind == "notes.posted"]
    assert posted == ([True] if stored else [None])


def test_a_job_that_finishes_while_its_reply_is_being_posted_shows_its_result(
    fake_slack: FakeSlack, bot: RollbackBot
) -> None:
    """The redraw asked at the finish found no ts to edit yet (the slow post of "running" had not
    answered) and was dropped: the reply said "Running" forever. A post is now followed by a redraw."""
    slash(fake_slack, bot, "")
    parent = thread_of(fake_slack, bot, "RB-1")[0]
    assert bot.deps.publisher.queue.wait_idle(20)
    bot.deps.runner.agents = FakeAgents(FakeClient({}))  # type: ignore[assignment]
    fake_slack.inject("chat.postMessage", delay_s=1.0, times=1)  # the "running" reply
    job = bot.deps.runner.start("RB-1", "immediate.assess", "U0BOB").job
    assert job is not None
    wait_for(lambda: bot.deps.service.jobs("RB-1")[-1].state == "finished", what="the job finished")
    assert bot.deps.publisher.queue.wait_idle(20)
    replies = [m for m in fake_slack.thread(CHANNEL, parent.ts) if "`status`" in m.text]
    assert len(replies) == 1 and "succeeded" in replies[0].text, [m.text for m in replies]


def test_a_change_while_the_notes_are_being_posted_reaches_them(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    """The notes' edit for a change made while their post was on its way found no ts yet and was
    dropped: the pinned notes showed the incident as it was before, until the next change."""
    svc, publisher = bot.deps.service, bot.deps.publisher
    bot.deps.notes.min_interval_s = 60  # no later edit of the notes comes to the rescue
    fake_slack.inject("chat.postMessage", delay_s=1.0, times=1, after=1)  # the parent, then the notes
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    publisher.open_thread(inc)
    wait_for(lambda: len(fake_slack.calls("chat.postMessage")) >= 2, what="the notes' post on its way")
    step = bot.deps.runbook.sections[0].steps[0]
    svc.transition(inc.id, step.id, "done", "U0BOB")
    publisher.refresh_step(inc.id, step.id)
    ts = wait_for(lambda: bot.deps.notes.notes_ts(inc.id), what="the notes posted")
    after = bot.deps.runbook.sections[0].steps[1].title
    wait_for(
        lambda: f"{after}: " in json.dumps(fake_slack.message(CHANNEL, ts).blocks),
        what=f"the notes showing {after!r} as the current step",
    )
