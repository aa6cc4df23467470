"""The stakeholder notice through app.dispatch: modal prefilled, edited text sent to the chosen
audiences' channels, a failed channel said plainly, steps ticked, the thread links it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from bot.domain import AgentJob
from bot.notice import UNKNOWN_IMPACT, impact_line
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_view_submission
from tests.conftest import SIGNING_SECRET, wait_for
from tests.dispatch.test_rollback_dispatch import CHANNEL, click, open_incident, slash

CONTACTS = """
roles:
  development_lead: {users: [U0ALICE]}
severities:
  critical: {roles: [development_lead]}
stakeholders:
  channels: {development_team: C0DEV, qa: C0QA, customer_support: C0SUPPORT, end_users: C0GONE}
"""


@pytest.fixture
def notice_bot(bot_settings: Settings, tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RollbackBot]:
    for channel, name in (("C0DEV", "dev"), ("C0QA", "qa"), ("C0SUPPORT", "support")):
        fake_slack.add_channel(channel, name)
    path = tmp_path / "contacts.yaml"
    path.write_text(CONTACTS)
    b = create_app(bot_settings.model_copy(update={"rollback_contacts_path": path}))
    yield b
    b.close()


def _submit(fake: FakeSlack, bot: RollbackBot, view_id: str, edits: dict[str, object]) -> tuple[int, str]:
    req = build_view_submission(fake, signing_secret=SIGNING_SECRET, user_id="U0BOB", view_id=view_id, edits=edits)
    resp = bot.app.dispatch(req.bolt_request())
    return resp.status, resp.body


def test_notice_modal_is_prefilled_and_the_edited_text_reaches_its_channels(
    fake_slack: FakeSlack, notice_bot: RollbackBot
) -> None:
    parent_ts = open_incident(fake_slack, notice_bot)
    comms_ts = notice_bot.deps.service.section_messages("RB-1")["comms"]
    click(fake_slack, notice_bot, comms_ts, ActionId.NOTICE_OPEN, "RB-1|comms.notify", user="U0BOB")
    view = wait_for(lambda: fake_slack.views(), what="modal opened")[0]
    draft = view.view["blocks"][1]["element"]["initial_value"]
    assert draft.startswith("URGENT: Media Migration Rollback Initiated")
    for needle in ("Environment: production", "Method: not chosen yet", "Expected duration: about 15 minutes"):
        assert needle in draft
    assert f"Impact: {UNKNOWN_IMPACT}" in draft
    options = [o["value"] for o in view.view["blocks"][2]["element"]["options"]]
    assert options == ["development_team", "qa", "customer_support", "end_users"]
    # each audience shows its channel as Slack names it (a mention), not as a bare ID
    dev = view.view["blocks"][2]["element"]["options"][0]["text"]
    assert dev == {"type": "mrkdwn", "text": "Development team → <#C0DEV>"}

    status, body = _submit(fake_slack, notice_bot, view.id, {"notice_audiences": []})
    assert status == 200 and json.loads(body)["errors"] == {"notice_audiences": "Choose at least one audience."}
    assert fake_slack.messages("C0DEV") == []

    edited = draft.replace("Updates follow", "Uploads are paused. Updates follow")
    status, _ = _submit(
        fake_slack,
        notice_bot,
        view.id,
        {"notice_text": edited, "notice_audiences": ["development_team", "qa", "end_users"]},
    )
    assert status == 200
    wait_for(lambda: any(":mega:" in m.text for m in fake_slack.thread(CHANNEL, parent_ts)), what="thread link")
    for channel in ("C0DEV", "C0QA"):
        posted = fake_slack.messages(channel)
        assert len(posted) == 1 and posted[0].text == edited.strip()
        assert "<!date^" in str(posted[0].blocks)
    assert fake_slack.messages("C0SUPPORT") == []
    line = next(m.text for m in fake_slack.thread(CHANNEL, parent_ts) if ":mega:" in m.text)
    assert re.search(r"<https://[^|>]+\|Development team> \(<#C0DEV>\)", line) and "Quality assurance team" in line
    assert "Could not post to End users (<#C0GONE>: `channel_not_found`)" in line
    steps = notice_bot.deps.service.steps("RB-1")
    assert (steps["comms.notify.dev"].state, steps["comms.notify.qa"].state) == ("done", "done")
    assert steps["comms.notify.dev"].actor == "U0BOB" and steps["comms.notify.dev"].note == "notice sent to <#C0DEV>"
    assert (steps["comms.notify.support"].state, steps["comms.notify.users"].state) == ("pending", "pending")
    sent = [e for e in notice_bot.deps.service.events("RB-1") if e.kind == "notice.sent"]
    assert len(sent) == 1 and sent[0].data["text"] == edited.strip()
    wait_for(
        lambda: ":white_check_mark: *Development team*" in str(fake_slack.message(CHANNEL, comms_ts).blocks),
        what="comms section re-rendered",
    )


def _job(operation: str, result: dict[str, object]) -> AgentJob:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return AgentJob(
        request_id=operation,
        incident_id="RB-1",
        step_id="s",
        operation=operation,
        state="finished",
        outcome="ok",
        result=result,
        started_by="U1",
        started_at=at,
    )


def test_impact_comes_from_the_rollback_or_else_the_dry_run() -> None:
    lost = {"lost_rows": [{"id": i, "file_name": f"f{i}.png"} for i in range(7)]}
    assert impact_line([]) == UNKNOWN_IMPACT
    assert impact_line([_job("dry_run", lost)]).startswith("7 media upload(s)")
    assert "a dry run" in impact_line([_job("dry_run", lost)]) and "f4.png…" in impact_line([_job("dry_run", lost)])
    both = impact_line([_job("rollback", {"lost_rows": []}), _job("dry_run", lost)])
    assert both.startswith("No media uploads are lost (the rollback")


def test_a_drill_pages_only_its_starter_and_keeps_its_notice_in_its_own_thread(
    fake_slack: FakeSlack, notice_bot: RollbackBot
) -> None:
    """A rehearsal shows the page and the notice without reaching anyone who didn't start it."""
    fake_slack.add_user("U0CAROL", "carol")
    resp = slash(fake_slack, notice_bot, "drill production critical rehearsal", user="U0CAROL")
    assert resp.status == 200
    svc = notice_bot.deps.service
    drill = wait_for(lambda: svc.open_for("production", drill=True), what="the drill")
    sections = len(notice_bot.deps.runbook.sections)
    wait_for(lambda: len(svc.section_messages(drill.id)) == sections, what="the drill's thread")
    paged = wait_for(lambda: [e for e in svc.events(drill.id) if e.kind == "paging.opened"], what="the drill's page")
    assert [t["user"] for t in paged[0].data["paged"]] == ["U0CAROL"]  # never U0ALICE, the real lead
    opened = [str(c.get("users")) for c in fake_slack.calls("conversations.open")]
    assert opened == ["U0CAROL"]  # one DM opened, to the starter
    dms = [c for c in fake_slack.calls("chat.postMessage") if str(c["channel"]).startswith("D")]
    assert len(dms) == 1 and "DRILL" in str(dms[0].get("text"))

    comms_ts = svc.section_messages(drill.id)["comms"]
    click(fake_slack, notice_bot, comms_ts, ActionId.NOTICE_OPEN, f"{drill.id}|comms.notify", user="U0CAROL")
    view = wait_for(lambda: fake_slack.views(), what="modal opened")[0]
    status, _ = _submit(fake_slack, notice_bot, view.id, {"notice_audiences": ["development_team", "qa"]})
    assert status == 200
    assert wait_for(lambda: [e for e in svc.events(drill.id) if e.kind == "notice.sent"], what="notice recorded")
    assert fake_slack.messages("C0DEV") == [] and fake_slack.messages("C0QA") == []  # stakeholders never see it
    thread = fake_slack.thread(CHANNEL, svc.get(drill.id).thread_ts or "")  # posted after the read above
    assert any("URGENT: Media Migration Rollback Initiated" in m.text and "DRILL" in m.text for m in thread)
