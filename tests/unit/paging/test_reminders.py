"""Target reminders on a controlled clock: 50%, 100%, then every target/4; closing stops them."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import Incident
from bot.incidents import IncidentService
from bot.reminders import ReminderService, TargetReminder
from bot.store import Store
from bot.timers import TimerService
from handlers.reminders import reminder_message
from tests.unit.bot.conftest import FakeClock


class Recorder:
    def __init__(self) -> None:
        self.got: list[TargetReminder] = []

    def remind(self, incident: Incident, reminder: TargetReminder) -> None:
        self.got.append(reminder)


def _rig(store: Store, svc: IncidentService, clock: FakeClock) -> tuple[TimerService, ReminderService, Recorder]:
    timers = TimerService(store, clock=clock)
    rec = Recorder()
    reminders = ReminderService(svc, timers, rec, clock=clock)
    timers.start()
    return timers, reminders, rec


def test_reminders_at_half_full_and_every_quarter_after(store: Store, svc: IncidentService, clock: FakeClock) -> None:
    timers, reminders, rec = _rig(store, svc, clock)
    inc = svc.open("production", "critical", "x", "C1", "U1")  # 15 min target
    reminders.start(inc.id)
    reminders.start(inc.id)  # idempotent
    clock.advance(minutes=7, seconds=15)
    timers.run_due()
    assert rec.got == []
    seen: list[tuple[int, float]] = []
    for _ in range(7 * 60 + 15, 25 * 60, 15):  # to 25 min, in 15 s steps
        clock.advance(seconds=15)
        timers.run_due()
        seen.extend((r.percent, (clock.now - inc.opened_at).total_seconds() / 60) for r in rec.got[len(seen) :])
    assert [p for p, _ in seen] == [50, 100, 125, 150]
    assert [m for _, m in seen] == [7.5, 15.0, 18.75, 22.5]


def test_reminder_names_the_running_step_and_its_holder(store: Store, svc: IncidentService, clock: FakeClock) -> None:
    timers, reminders, rec = _rig(store, svc, clock)
    inc = svc.open("production", "critical", "x", "C1", "U1")
    reminders.start(inc.id)
    svc.transition(inc.id, "immediate.alert-team", "done", "U0BOB")
    svc.transition(inc.id, "immediate.stop-app", "start", "U0ALICE")
    clock.advance(minutes=8)
    timers.run_due()
    current = rec.got[0].current
    assert current is not None and (current.step_id, current.state, current.holder) == (
        "immediate.stop-app",
        "running",
        "U0ALICE",
    )
    msg = reminder_message(svc.get(inc.id), rec.got[0], clock.now)
    assert "50% of its 15 min target" in msg.text and "(7 min left)" in msg.text
    assert "*Stop the application* (running, started by <@U0ALICE>)" in msg.text
    svc.transition(inc.id, "immediate.stop-app", "succeed", "U0ALICE")
    clock.advance(minutes=10)
    timers.run_due()
    current = rec.got[1].current
    assert current is not None and current.step_id == "immediate.assess" and current.holder == "U0ALICE"
    assert "(3 min overdue)" in reminder_message(svc.get(inc.id), rec.got[1], clock.now).text


def test_a_long_outage_gives_one_catch_up_reminder_and_closing_stops_them(
    store: Store, svc: IncidentService, clock: FakeClock
) -> None:
    timers, reminders, rec = _rig(store, svc, clock)
    inc = svc.open("production", "major", "x", "C1", "U1")  # 60 min target
    reminders.start(inc.id)
    clock.advance(hours=3)
    timers.run_due()
    assert [r.percent for r in rec.got] == [50]  # one, not the nine it missed
    pending = timers.pending(inc.id)
    assert [t.due_at - inc.opened_at for t in pending] == [timedelta(hours=3, minutes=15)]
    svc.resolve(inc.id, "U1", "done")
    assert reminders.stop(inc.id) == 1
    clock.advance(hours=1)
    assert timers.run_due() == [] and len(rec.got) == 1
