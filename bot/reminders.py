"""Target reminders: at 50% and 100% of the severity's target, then every target/4 while open.

Each reminder is a persistent ``target_reminder`` timer; firing one schedules the next reminder
time that is still ahead, so a bot that was down for an hour says where things stand once instead
of replaying every reminder it missed. The reminder names the step the team is on and who holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel

from bot.domain import Incident, StepState, StepStatus
from bot.incidents import IncidentService
from bot.timers import Timer, TimerService
from ops.models import utcnow

TARGET_REMINDER = "target_reminder"


def reminder_fraction(index: int) -> float:
    """Share of the target at which reminder ``index`` is due: 0.5, 1.0, 1.25, 1.5, ..."""
    return 0.5 if index == 0 else 1.0 + (index - 1) * 0.25


def reminder_at(incident: Incident, index: int) -> datetime:
    return incident.opened_at + timedelta(minutes=incident.target_minutes * reminder_fraction(index))


def next_reminder_index(incident: Incident, after: datetime) -> int:
    """The first reminder due strictly after ``after``."""
    index = 0
    while reminder_at(incident, index) <= after:
        index += 1
    return index


class CurrentStep(BaseModel):
    step_id: str
    title: str
    state: StepStatus
    holder: str | None = None  # who runs it, or who last moved the checklist


class TargetReminder(BaseModel):
    incident_id: str
    percent: int
    due_at: datetime
    current: CurrentStep | None = None


class ReminderSender(Protocol):
    def remind(self, incident: Incident, reminder: TargetReminder) -> None: ...


def current_step(service: IncidentService, incident: Incident) -> CurrentStep | None:
    """The running step if any; else the first open step outside the rollback options not chosen."""
    runbook = service.runbook
    states = service.steps(incident.id)
    last: StepState | None = None
    for state in states.values():
        if state.at is not None and (last is None or (last.at is not None and state.at > last.at)):
            last = state
    last_actor = last.actor if last else None
    for state in states.values():
        if state.state == StepStatus.running:
            return CurrentStep(
                step_id=state.step_id, title=runbook.step(state.step_id).title, state=state.state, holder=state.actor
            )
    for section, step, _ in runbook.iter_steps():
        if section.option is not None and incident.chosen_option not in (None, section.option):
            continue
        if section.option is not None and incident.chosen_option is None and section.option != 1:
            continue
        state = states[step.id]
        if state.state in (StepStatus.pending, StepStatus.failed) and not step.children:
            return CurrentStep(step_id=step.id, title=step.title, state=state.state, holder=last_actor)
    return None


class ReminderService:
    def __init__(
        self,
        incidents: IncidentService,
        timers: TimerService,
        sender: ReminderSender,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.incidents = incidents
        self.timers = timers
        self.sender = sender
        self.clock = clock
        timers.register(TARGET_REMINDER, self._on_reminder)

    def start(self, incident_id: str) -> None:
        """Arm the incident's first reminder (idempotent)."""
        incident = self.incidents.get(incident_id)
        if incident.is_open:
            self._arm(incident, next_reminder_index(incident, self.clock() - timedelta(microseconds=1)))

    def stop(self, incident_id: str) -> int:
        return self.timers.cancel_incident(incident_id, (TARGET_REMINDER,))

    def _arm(self, incident: Incident, index: int) -> None:
        self.timers.schedule(
            TARGET_REMINDER,
            f"{TARGET_REMINDER}|{incident.id}|{index}",
            reminder_at(incident, index),
            incident_id=incident.id,
            payload={"index": index},
        )

    def _on_reminder(self, timer: Timer) -> None:
        incident = self.incidents.get(str(timer.incident_id))
        if not incident.is_open:
            return
        index = int(timer.payload["index"])
        reminder = TargetReminder(
            incident_id=incident.id,
            percent=round(reminder_fraction(index) * 100),
            due_at=incident.due_at,
            current=current_step(self.incidents, incident),
        )
        self.incidents.record(
            incident.id,
            "reminder.target",
            None,
            percent=reminder.percent,
            current_step=reminder.current.step_id if reminder.current else None,
        )
        self._arm(incident, next_reminder_index(incident, self.clock()))
        self.sender.remind(incident, reminder)
