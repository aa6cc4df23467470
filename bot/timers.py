"""Timers that survive the bot: escalations, deferred pages, reminders, follow-up due dates.

Design: the ``timers`` table is the truth, APScheduler only the alarm clock. Each timer is a row
(kind, unique key, incident, due time, JSON payload, state ``pending|fired|cancelled``), and each
pending row is a ``DateTrigger`` job in a ``BackgroundScheduler``, re-armed from the table when the
bot starts (a timer whose time passed while the bot was down fires at once). Firing first flips
the row ``pending -> fired`` with a conditional UPDATE and runs the kind's handler only if that
changed the row, so a timer fires at most once across restarts, double arming and races with
cancel. We re-arm from our own table instead of using APScheduler's SQLAlchemy job store so the
store stays one SQLite file with one schema, and a job never holds a pickled reference to code.

Handlers are registered per kind as data (``register("escalate", fn)``). Effects that must never
happen twice (a page) carry their own unique key as well, because a handler may be cut short by a
SIGKILL after the row was marked fired. ``run_due`` fires what is due on an injected clock, so
tests move time without sleeping.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.triggers.date import DateTrigger
from pydantic import BaseModel, Field

from bot.store import Store
from ops.models import utcnow

log = logging.getLogger(__name__)


class TimerState(StrEnum):
    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"


class Timer(BaseModel):
    key: str
    kind: str
    incident_id: str | None = None
    due_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    state: TimerState = TimerState.pending
    created_at: datetime | None = None
    fired_at: datetime | None = None


TimerHandler = Callable[[Timer], None]


def _column_value(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict) else value


class UnknownTimerKind(KeyError):
    def __str__(self) -> str:
        return f"no handler registered for timer kind {self.args[0]!r}"


class TimerService:
    """Schedule, cancel and fire persistent timers. Thread-safe (the Store serialises writes)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        scheduler: BaseScheduler | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.scheduler = scheduler
        self._handlers: dict[str, TimerHandler] = {}
        self._started = False
        self._lock = threading.Lock()

    # -- wiring ---------------------------------------------------------------------------------------

    def register(self, kind: str, handler: TimerHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"timer kind {kind!r} already has a handler")
        self._handlers[kind] = handler

    def start(self) -> int:
        """Arm every pending timer (past-due ones at once) and start the scheduler; returns the count."""
        with self._lock:
            self._started = True
            pending = self.pending()
            for timer in pending:
                self._arm(timer)
            if self.scheduler is not None and self.scheduler.state == STATE_STOPPED:
                self.scheduler.start()
        return len(pending)

    def close(self) -> None:
        if self.scheduler is not None and self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=False)

    # -- scheduling -----------------------------------------------------------------------------------

    def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        *,
        incident_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Add a pending timer; False (nothing changes) if ``key`` was ever used, in any state."""
        if kind not in self._handlers:
            raise UnknownTimerKind(kind)
        due = due_at.astimezone(UTC)
        timer = Timer(key=key, kind=kind, incident_id=incident_id, due_at=due, payload=payload or {})
        row = timer.model_dump(mode="json")
        row.update(due_epoch=due.timestamp(), created_at=self.clock().isoformat())
        with self.store.transaction() as db:
            cols = list(row)
            values = [_column_value(row[c]) for c in cols]
            inserted = (
                db.execute(
                    f"INSERT OR IGNORE INTO timers({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    values,
                ).rowcount
                > 0
            )
        if inserted and self._started:
            self._arm(timer)
        return inserted

    def cancel(self, key: str) -> bool:
        changed = self.store.cond_update(
            "timers", {"key": key}, {"state": TimerState.cancelled.value}, {"state": TimerState.pending.value}
        )
        if changed:
            self._disarm(key)
        return changed

    def cancel_incident(self, incident_id: str, kinds: tuple[str, ...] | None = None) -> int:
        """Cancel an incident's pending timers (all, or of ``kinds``); returns how many."""
        cancelled = 0
        for timer in self.pending(incident_id):
            if (kinds is None or timer.kind in kinds) and self.cancel(timer.key):
                cancelled += 1
        return cancelled

    # -- firing ---------------------------------------------------------------------------------------

    def fire(self, key: str) -> bool:
        """Mark the timer fired and run its handler, once; False if it was not pending any more."""
        row = self.store.row("timers", "key = ?", [key])
        if row is None or row["state"] != TimerState.pending.value:
            return False
        handler = self._handlers.get(row["kind"])
        if handler is None:  # leave it pending: a later version of the bot may know the kind
            log.error("timer %s: %s", key, UnknownTimerKind(row["kind"]))
            return False
        now = self.clock()
        if not self.store.cond_update(
            "timers",
            {"key": key},
            {"state": TimerState.fired.value, "fired_at": now.isoformat()},
            {"state": TimerState.pending.value},
        ):
            return False
        timer = Timer.model_validate({**row, "state": TimerState.fired.value, "fired_at": now})
        try:
            handler(timer)
        except Exception:
            log.exception("timer %s (%s) failed", key, timer.kind)
        return True

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Fire every pending timer due at ``now`` (default: the clock), oldest first, including the
        ones their handlers schedule already due. Returns the keys that fired."""
        fired: list[str] = []
        while True:
            at = (now or self.clock()).timestamp()
            due = self.store.rows(
                "timers", "state = ? AND due_epoch <= ?", [TimerState.pending.value, at], order_by="due_epoch, rowid"
            )
            progressed = False
            for row in due:
                if self.fire(row["key"]):
                    fired.append(row["key"])
                    progressed = True
            if not progressed:
                return fired

    # -- reading --------------------------------------------------------------------------------------

    def get(self, key: str) -> Timer | None:
        row = self.store.row("timers", "key = ?", [key])
        return Timer.model_validate(row) if row else None

    def pending(self, incident_id: str | None = None) -> list[Timer]:
        if incident_id is None:
            rows = self.store.rows("timers", "state = ?", [TimerState.pending.value], order_by="due_epoch")
        else:
            rows = self.store.rows(
                "timers",
                "state = ? AND incident_id = ?",
                [TimerState.pending.value, incident_id],
                order_by="due_epoch",
            )
        return [Timer.model_validate(r) for r in rows]

    # -- APScheduler ----------------------------------------------------------------------------------

    def _arm(self, timer: Timer) -> None:
        if self.scheduler is None:
            return
        run_at = max(timer.due_at, datetime.now(UTC))
        self.scheduler.add_job(
            self.fire,
            DateTrigger(run_date=run_at, timezone=UTC),
            args=[timer.key],
            id=timer.key,
            name=f"{timer.kind}:{timer.key}",
            replace_existing=True,
            misfire_grace_time=None,  # late is better than never: a busy bot still escalates
            coalesce=True,
        )

    def _disarm(self, key: str) -> None:
        if self.scheduler is None:
            return
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(key)
