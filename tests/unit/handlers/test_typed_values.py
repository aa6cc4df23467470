"""The values that cross the seams are typed: button values, outcomes, and one headline per outcome."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.domain import DONE_OUTCOMES, AgentOutcome
from handlers.actions_ids import OptionRef, StepRef
from handlers.results import HEADLINES, job_result_message
from ops.models import JobOutcome


def test_option_values_keep_the_form_posted_buttons_carry() -> None:
    ref = OptionRef(incident_id="RB-7", option=2)
    assert ref.encode() == "RB-7|option:2"
    assert OptionRef.decode("RB-7|option:2") == ref


@pytest.mark.parametrize("value", ["RB-7|opt1.verify", "RB-7|option:", "RB-7|option:two", "RB-7", "RB-7|option:0"])
def test_a_step_value_is_not_an_option(value: str) -> None:
    with pytest.raises(ValueError):
        OptionRef.decode(value)


def test_step_values_round_trip_with_the_pinned_backup() -> None:
    ref = StepRef(incident_id="RB-7", step_id="opt2.restore", arg="db_backup_20250730-203339.db")
    assert StepRef.decode(ref.encode()) == ref


def test_the_bots_outcomes_cover_every_outcome_the_agent_returns() -> None:
    assert set(get_args(JobOutcome)) <= {o.value for o in AgentOutcome}
    assert set(DONE_OUTCOMES) == {AgentOutcome.ok, AgentOutcome.noop}


def test_every_outcome_has_a_headline() -> None:
    assert set(HEADLINES) == set(AgentOutcome)
    for outcome in AgentOutcome:
        msg = job_result_message(
            operation="verify",
            outcome=outcome,
            result=None,
            error={"kind": "x", "code": "c", "message": "m"},
            environment="production",
            step_title="Verify",
            started_by="U1",
            duration_s=None,
        )
        assert "ended with outcome" not in msg.text, outcome  # the line for an outcome nobody knows


def test_an_unknown_outcome_still_gets_a_line() -> None:
    msg = job_result_message(
        operation="verify",
        outcome="exploded",
        result=None,
        error=None,
        environment="production",
        step_title="Verify",
        started_by="U1",
        duration_s=None,
    )
    assert msg.text.startswith(":grey_question:") and "ended with outcome `exploded`" in msg.text
