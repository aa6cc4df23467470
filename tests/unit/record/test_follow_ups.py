"""Follow-up tasks: owner and due date, a reminder per assignment on the persistent timers, done once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.follow_ups import REMINDER_KIND, FollowUp, FollowUpError, FollowUpService
from bot.incidents import IncidentService
from bot.record.builder import RecordBuilder
from bot.store import Store
from bot.timers import TimerService
from tests.unit.bot.conftest import FakeClock

TASK = "followup.investigate"


@pytest.fixture
def timers(store: Store, clock: FakeClock) -> TimerService:
    return TimerService(store, clock=clock)


@pytest.fixture
def reminded(svc: IncidentService, timers: TimerService, clock: FakeClock) -> tuple[FollowUpService, list[FollowUp]]:
    follow_ups = FollowUpService(svc, timers, clock=clock)
    told: list[FollowUp] = []
    follow_ups.on_reminder(told.append)
    timers.start()
    return follow_ups, told


def test_assign_remind_once_then_done(
    svc: IncidentService, timers: TimerService, clock: FakeClock, reminded: tuple[FollowUpService, list[FollowUp]]
) -> None:
    follow_ups, told = reminded
    inc = svc.open("production", "critical", "x", "C1", "U1").id
    item = follow_ups.assign(inc, TASK, "U0BOB", clock.now + timedelta(days=2), "U1")
    assert (item.owner, item.assignment, item.title) == ("U0BOB", 1, "Investigate root cause")
    assert [t.kind for t in timers.pending(inc)] == [REMINDER_KIND]
    clock.advance(days=2)
    timers.run_due()
    timers.run_due()
    assert [(t.owner, t.step_id) for t in told] == [("U0BOB", TASK)]  # once
    assert follow_ups.get(inc, TASK).reminded_at == clock.now  # type: ignore[union-attr]
    done = follow_ups.complete(inc, TASK, "U0BOB")
    assert done.state == "done" and done.done_by == "U0BOB"
    assert svc.step_state(inc, TASK).state == "done"
    with pytest.raises(FollowUpError, match="already marked done by U0BOB"):
        follow_ups.complete(inc, TASK, "U1")
    kinds = [e.kind for e in svc.events(inc) if e.kind.startswith("follow_up.")]
    assert kinds == ["follow_up.assigned", "follow_up.reminded", "follow_up.done"]
    record = RecordBuilder(svc, clock=clock).build(inc)
    investigate = record.follow_ups[0]
    assert investigate.owner is not None and investigate.owner.id == "U0BOB"
    assert investigate.state == "done" and investigate.done_by is not None


def test_reassigning_moves_the_reminder_and_the_old_one_never_fires(
    svc: IncidentService, timers: TimerService, clock: FakeClock, reminded: tuple[FollowUpService, list[FollowUp]]
) -> None:
    follow_ups, told = reminded
    inc = svc.open("production", "critical", "x", "C1", "U1").id
    follow_ups.assign(inc, TASK, "U0BOB", clock.now + timedelta(hours=1), "U1")
    second = follow_ups.assign(inc, TASK, "U0CAROL", clock.now + timedelta(hours=3), "U1")
    assert second.assignment == 2 and [t.key for t in timers.pending(inc)] == [second.timer_key]
    clock.advance(hours=2)
    timers.run_due()
    assert told == []
    clock.advance(hours=1)
    timers.run_due()
    assert [t.owner for t in told] == ["U0CAROL"]


def test_done_in_the_checklist_or_closed_task_means_no_reminder(
    svc: IncidentService, timers: TimerService, clock: FakeClock, reminded: tuple[FollowUpService, list[FollowUp]]
) -> None:
    follow_ups, told = reminded
    inc = svc.open("production", "critical", "x", "C1", "U1").id
    follow_ups.assign(inc, TASK, "U0BOB", clock.now + timedelta(hours=1), "U1")
    svc.transition(inc, TASK, "done", "U0BOB")
    clock.advance(hours=2)
    timers.run_due()
    assert told == []


@pytest.mark.parametrize(
    ("step", "owner", "hours", "message"),
    [
        ("opt1.verify", "U0BOB", 1, "is not a follow-up task"),
        (TASK, "not-a-user", 1, "must be a Slack user"),
        (TASK, "U0BOB", -1, "is in the past"),
    ],
)
def test_bad_requests_are_clear_errors_and_change_nothing(
    svc: IncidentService,
    timers: TimerService,
    clock: FakeClock,
    reminded: tuple[FollowUpService, list[FollowUp]],
    step: str,
    owner: str,
    hours: int,
    message: str,
) -> None:
    follow_ups, _ = reminded
    inc = svc.open("production", "critical", "x", "C1", "U1").id
    with pytest.raises(FollowUpError, match=message):
        follow_ups.assign(inc, step, owner, clock.now + timedelta(hours=hours), "U1")
    assert follow_ups.items(inc) == [] and timers.pending(inc) == []
    assert not [e for e in svc.events(inc) if e.kind.startswith("follow_up.")]
    with pytest.raises(FollowUpError, match="has no owner yet"):
        follow_ups.complete(inc, TASK, "U1")
