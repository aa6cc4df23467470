"""The runbook's page_contacts and stakeholder_notice step kinds: in the default runbook, in runbook
files, and as their builders draw them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.incidents import Incident, StepState
from bot.runbook import PageContactsStep, RunbookError, StakeholderNoticeStep, load_runbook, parse_runbook
from handlers.actions_ids import ActionId
from handlers.steps import STEP_VIEWS, SectionContext, StepView

RUNBOOK = load_runbook()


def test_the_default_runbook_pages_at_alert_the_team_and_maps_each_notify_step_to_an_audience() -> None:
    assert [s.id for s in RUNBOOK.page_contacts_steps()] == ["immediate.alert-team"]
    notices = {s.id: s.audience for s in RUNBOOK.notice_steps()}
    assert notices == {
        "comms.notify": None,
        "comms.notify.dev": "development_team",
        "comms.notify.qa": "qa",
        "comms.notify.support": "customer_support",
        "comms.notify.users": "end_users",
    }


def test_an_unknown_audience_is_a_runbook_error_naming_the_step() -> None:
    text = """
sections:
  - id: comms
    title: Communication
    steps:
      - {id: comms.notify, title: Notify, kind: stakeholder_notice, audience: board}
"""
    with pytest.raises(RunbookError, match="audience"):
        parse_runbook(text, "rb.yaml")


def _view(step_id: str, state: str = "pending") -> StepView:
    incident = Incident(
        id="RB-1",
        environment="production",
        severity="critical",
        target_minutes=15,
        summary="",
        channel="C1",
        opened_by="U1",
        opened_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return StepView(
        incident=incident,
        step=RUNBOOK.step(step_id),
        state=StepState(incident_id="RB-1", step_id=step_id, state=state),  # type: ignore[arg-type]
        depth=0,
        ctx=SectionContext(),
    )


def _actions(blocks: list[object]) -> list[str]:
    dicts = [b.to_dict() for b in blocks]  # type: ignore[attr-defined]
    return [e["action_id"] for b in dicts if b["type"] == "actions" for e in b["elements"]]


def test_only_the_audience_less_notice_step_carries_the_send_button() -> None:
    parent = STEP_VIEWS["stakeholder_notice"].build(_view("comms.notify"))
    assert _actions(parent)[0] == ActionId.NOTICE_OPEN
    child = STEP_VIEWS["stakeholder_notice"].build(_view("comms.notify.dev"))
    assert ActionId.NOTICE_OPEN not in _actions(child) and ActionId.STEP_DONE in _actions(child)
    assert isinstance(RUNBOOK.step("comms.notify"), StakeholderNoticeStep)


def test_the_page_contacts_step_says_the_bot_does_it_until_it_is_done() -> None:
    assert isinstance(RUNBOOK.step("immediate.alert-team"), PageContactsStep)
    pending = str([b.to_dict() for b in STEP_VIEWS["page_contacts"].build(_view("immediate.alert-team"))])
    assert "The bot pages the roles of the contacts file" in pending
    done = str([b.to_dict() for b in STEP_VIEWS["page_contacts"].build(_view("immediate.alert-team", "done"))])
    assert "The bot pages" not in done
