"""Follow-up tasks (investigate root cause, plan re-migration, update documentation): owner, due date,
a reminder when due, and who marked them done.

The reminder is a persistent timer (bot/timers.py): it survives a restart and fires once. Each
assignment gets its own timer key, so reassigning cancels the old reminder and arms a new one, and
an old reminder that fires late for a reassigned or finished task does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from bot.domain import StepStatus
from bot.incidents import DomainError, IncidentService
from ops.models import utcnow

REMINDER_KIND = "follow_up_due"


class FollowUpState(StrEnum):
    open = "open"
    done = "done"


class FollowUp(BaseModel):
    incident_id: str
    step_id: str
    title: str
    owner: str
    due_at: datetime
    assigned_by: str
    assigned_at: datetime
    assignment: int
    timer_key: str
    state: FollowUpState = FollowUpState.open
    done_by: str | None = None
    done_at: datetime | None = None
    reminded_at: datetime | None = None


class FollowUpError(DomainError):
    """A follow-up request that cannot be done; the message says why, nothing was changed."""


class ReminderTimers(Protocol):
    """What the follow-ups need of the persistent timers (bot.timers.TimerService provides it)."""

    def register(self, kind: str, handler: Callable[[Any], None]) -> None: ...

    def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        *,
        incident_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> bool: ...

    def cancel(self, key: str) -> bool: ...


Notify = Callable[[FollowUp], None]


class FollowUpService:
    def __init__(
        self,
        service: IncidentService,
        timers: ReminderTimers,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self.store = service.store
        self.timers = timers
        self.clock = clock
        self._notify: Notify | None = None
        timers.register(REMINDER_KIND, self._due)

    def on_reminder(self, notify: Notify) -> None:
        """Who tells the owner when a follow-up is due (the Slack edge: DM and thread)."""
        self._notify = notify

    def tasks(self) -> list[tuple[str, str]]:
        """(step id, title) of the follow-up tasks: the runbook's steps of kind ``follow_up``."""
        return [(s.id, s.title) for s in self.service.runbook.follow_up_steps()]

    def _title(self, step_id: str) -> str:
        for sid, title in self.tasks():
            if sid == step_id:
                return title
        raise FollowUpError(f"{step_id!r} is not a follow-up task (one of: {', '.join(s for s, _ in self.tasks())})")

    def get(self, incident_id: str, step_id: str) -> FollowUp | None:
        row = self.store.row("follow_ups", "incident_id = ? AND step_id = ?", [incident_id, step_id])
        return FollowUp.model_validate(row) if row else None

    def items(self, incident_id: str) -> list[FollowUp]:
        rows = {r["step_id"]: r for r in self.store.rows("follow_ups", "incident_id = ?", [incident_id])}
        return [FollowUp.model_validate(rows[sid]) for sid, _ in self.tasks() if sid in rows]

    def assign(self, incident_id: str, step_id: str, owner: str, due_at: datetime, by: str) -> FollowUp:
        """Give a task an owner and a due date (again, to reassign); arms the due-date reminder."""
        title = self._title(step_id)
        self.service.get(incident_id)
        owner = owner.strip()
        if not owner.startswith(("U", "W")):
            raise FollowUpError(f"the owner must be a Slack user, got {owner!r}")
        if due_at.tzinfo is None:
            raise FollowUpError("the due date needs a time zone")
        now = self.clock()
        if due_at <= now:
            raise FollowUpError(f"the due date {due_at:%Y-%m-%d %H:%M} UTC is in the past")
        with self.store.transaction():
            previous = self.get(incident_id, step_id)
            if previous is not None and previous.state == FollowUpState.done:
                raise FollowUpError(f"“{title}” was already marked done by {previous.done_by}")
            assignment = (previous.assignment + 1) if previous else 1
            item = FollowUp(
                incident_id=incident_id,
                step_id=step_id,
                title=title,
                owner=owner,
                due_at=due_at.astimezone(UTC),
                assigned_by=by,
                assigned_at=now,
                assignment=assignment,
                timer_key=f"follow_up:{incident_id}:{step_id}:{assignment}",
            )
            row = item.model_dump(mode="json")
            if previous is None:
                self.store.insert("follow_ups", row)
            else:
                changed = self.store.cond_update(
                    "follow_ups",
                    {"incident_id": incident_id, "step_id": step_id},
                    row,
                    {"assignment": previous.assignment, "state": FollowUpState.open.value},
                )
                if not changed:
                    raise FollowUpError(f"“{title}” changed at the same time; try again")
                self.timers.cancel(previous.timer_key)
            self.timers.schedule(
                REMINDER_KIND,
                item.timer_key,
                item.due_at,
                incident_id=incident_id,
                payload={"step_id": step_id, "assignment": assignment},
            )
            self.service.record(
                incident_id,
                "follow_up.assigned",
                by,
                step_id,
                owner=owner,
                due_at=item.due_at.isoformat(),
                previous_owner=previous.owner if previous else None,
                detail=f"owner {owner}, due {item.due_at:%Y-%m-%d %H:%M} UTC",
            )
        return item

    def complete(self, incident_id: str, step_id: str, by: str) -> FollowUp:
        """Mark a task done (and its checklist step); cancels the reminder. Done twice: an error."""
        title = self._title(step_id)
        with self.store.transaction():
            item = self.get(incident_id, step_id)
            if item is None:
                raise FollowUpError(f"“{title}” has no owner yet; assign it first")
            if item.state == FollowUpState.done:
                raise FollowUpError(f"“{title}” was already marked done by {item.done_by}")
            now = self.clock()
            self.store.cond_update(
                "follow_ups",
                {"incident_id": incident_id, "step_id": step_id},
                {"state": FollowUpState.done.value, "done_by": by, "done_at": now.isoformat()},
                {"state": FollowUpState.open.value},
            )
            if self.service.step_state(incident_id, step_id).state in (StepStatus.pending, StepStatus.failed):
                self.service.transition(incident_id, step_id, "done", by, note="follow-up done")
            self.timers.cancel(item.timer_key)
            self.service.record(incident_id, "follow_up.done", by, step_id, owner=item.owner, detail=f"by {by}")
            done = self.get(incident_id, step_id)
        assert done is not None
        return done

    def _due(self, timer: Any) -> None:
        """The reminder timer fired: note it, then tell the owner (only for the current assignment)."""
        incident_id = str(timer.incident_id)
        step_id = str(timer.payload.get("step_id"))
        item = self.get(incident_id, step_id)
        if item is None or item.state != FollowUpState.open or item.timer_key != timer.key:
            return
        if self.service.step_state(incident_id, step_id).state in (StepStatus.done, StepStatus.skipped):
            return  # ticked off in the checklist in the meantime
        now = self.clock()
        self.store.cond_update(
            "follow_ups",
            {"incident_id": incident_id, "step_id": step_id},
            {"reminded_at": now.isoformat()},
            {"assignment": item.assignment},
        )
        self.service.record(incident_id, "follow_up.reminded", None, step_id, owner=item.owner, detail="due now")
        if self._notify is not None:
            self._notify(item.model_copy(update={"reminded_at": now}))
