"""Incidents, their runbook steps, the event timeline and agent jobs: the bot's domain service.

The Slack layer calls :class:`IncidentService` and renders what it returns; nothing here knows about
Slack. All state lives in the :class:`~bot.store.Store`, so a new service on the same file picks up
where the last process stopped. Every change is one transaction holding the state change and its
timeline event, and every state change is conditional, so a double click or a retried request
changes things once and records one event.

Step state machine (``transition`` actions)::

    done    pending|failed  -> done          skip  pending|failed -> skipped
    undo    done|skipped|failed -> pending   start pending|failed -> running
    retry   failed -> running                succeed running -> done
    fail    running -> failed

A running step only leaves ``running`` through succeed/fail (an agent result): a Done click on it is
refused with reason "running". Steps stay editable after the incident is closed (follow-up tasks);
agent jobs and choices need an open incident.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from bot.domain import (
    DONE_OUTCOMES,
    STEP_ACTIONS,
    AgentJob,
    AgentOutcome,
    Event,
    Incident,
    IncidentState,
    JobState,
    Page,
    Severity,
    StepState,
    StepStatus,
    Transition,
)
from bot.permissions import OperatorPolicy
from bot.runbook import Runbook, RunbookStep
from bot.store import Store
from bot.thread_plan import ThreadMessage
from ops.contract import OPERATIONS
from ops.models import BackupInfo, utcnow

__all__ = [
    "AgentJob",
    "Authorization",
    "BackupChoiceOutcome",
    "CloseOutcome",
    "CloseRefusal",
    "DomainError",
    "Event",
    "Incident",
    "IncidentAlreadyOpen",
    "IncidentSnapshot",
    "IncidentClosed",
    "IncidentService",
    "IncidentState",
    "JobState",
    "MissingChoice",
    "Page",
    "Severity",
    "StepState",
    "StepStatus",
    "Transition",
    "UnknownIncident",
    "UnknownJob",
    "UnknownStep",
    "utcnow",
]

P, R, D, F, S = (StepStatus.pending, StepStatus.running, StepStatus.done, StepStatus.failed, StepStatus.skipped)

# action -> (states it may start from, state it leads to)
RULES: dict[str, tuple[frozenset[StepStatus], StepStatus]] = {
    "done": (frozenset({P, F}), D),
    "skip": (frozenset({P, F}), S),
    "undo": (frozenset({D, S, F}), P),
    "start": (frozenset({P, F}), R),
    "retry": (frozenset({F}), R),
    "succeed": (frozenset({R}), D),
    "fail": (frozenset({R}), F),
}

# The actor of a step ticked (or failed) from an agent result's checks, not by a person's click.
AGENT_ACTOR = "rollback-agent"
INCONCLUSIVE_NOTE = "inconclusive"  # the note of a step whose job could not decide (e.g. no baseline)
UNPROVABLE_NOTE = "cannot prove stopped"  # refused: nothing on the host can prove go-fast-cdn is stopped
# The open real incident (or drill) of an environment: (environment, drill).
_OPEN_IN_ENVIRONMENT = "environment = ? AND state = 'open' AND drill = ?"


class DomainError(Exception):
    """Base for the domain's own errors."""


class UnknownIncident(DomainError, KeyError):
    def __str__(self) -> str:
        return f"unknown incident {self.args[0]!r}"


class UnknownStep(DomainError, KeyError):
    def __str__(self) -> str:
        return f"unknown step {self.args[0]!r}"


class UnknownJob(DomainError, KeyError):
    def __str__(self) -> str:
        return f"unknown agent job {self.args[0]!r}"


class IncidentClosed(DomainError):
    """The incident is resolved or cancelled: no agent jobs or choices any more."""


class MissingChoice(DomainError):
    """A step needs a human choice first (e.g. restore needs a chosen backup)."""


class IncidentAlreadyOpen(DomainError):
    """An environment already has an open incident; ``.incident`` is that one."""

    def __init__(self, incident: Incident) -> None:
        super().__init__(f"{incident.environment} already has open incident {incident.id}")
        self.incident = incident


def _iso(dt: datetime) -> str:
    return dt.isoformat()


class CloseRefusal(StrEnum):
    not_allowed = "not_allowed"  # neither an operator nor the opener
    job_running = "job_running"  # an agent job still runs: its result must land in an open incident
    already_closed = "already_closed"


class CloseOutcome(BaseModel):
    """What Resolve / Cancel did: closed (with the resolution sentence kept on the incident) or why not."""

    closed: bool
    incident: Incident
    refusal: CloseRefusal | None = None
    running_operation: str | None = None
    resolution: str | None = None


class Authorization(BaseModel):
    """May this person run agent operations here; ``reason`` is shown to a refused person and recorded."""

    allowed: bool
    reason: str


class IncidentSnapshot(BaseModel):
    """Everything a render of an incident's messages needs, read at once (``IncidentService.snapshot``).

    ``backups`` is the newest backup listing seen in this incident (a step's ``backups_list`` or the
    listing fetched for a fallback offer), None if there was none.
    """

    incident: Incident
    steps: dict[str, StepState]
    section_messages: dict[str, str]
    jobs: list[AgentJob]
    backups: list[BackupInfo] | None = None
    thread: dict[str, ThreadMessage] = Field(default_factory=dict)  # the thread plan, by message key

    @property
    def done(self) -> int:
        """Steps done or skipped: the checklist's progress."""
        return sum(1 for s in self.steps.values() if s.state in (StepStatus.done, StepStatus.skipped))

    @property
    def total(self) -> int:
        return len(self.steps)

    def job(self, request_id: str) -> AgentJob:
        for job in self.jobs:
            if job.request_id == request_id:
                return job
        raise UnknownJob(request_id)

    def running_jobs(self) -> list[AgentJob]:
        return [j for j in self.jobs if j.state == JobState.running]

    def backup(self, name: str | None) -> BackupInfo | None:
        return next((b for b in self.backups or [] if b.name == name), None)


class BackupChoiceOutcome(BaseModel):
    """Choosing a backup: whether the choice changed, and which backup-choice steps it completed."""

    changed: bool
    completed_steps: list[str] = Field(default_factory=list)


class IncidentService:
    """Open, track and close incidents over a Store and a Runbook. Thread-safe via the Store."""

    def __init__(
        self,
        store: Store,
        runbook: Runbook,
        clock: Callable[[], datetime] = utcnow,
        operators: OperatorPolicy | None = None,
    ) -> None:
        self.store = store
        self.runbook = runbook
        self.clock = clock
        # No policy means nobody is an operator: an unconfigured bot must not run agent operations.
        self.operators = operators or OperatorPolicy([], None, lambda group: [])
        self._step_ids = runbook.step_ids()
        self._step_set = set(self._step_ids)

    # -- incidents ----------------------------------------------------------------------------------

    def open(
        self,
        environment: str,
        severity: Severity | str,
        summary: str,
        channel: str,
        opened_by: str,
        *,
        drill: bool = False,
    ) -> Incident:
        """Open an incident with every runbook step pending; IncidentAlreadyOpen if one is open here.

        Drills and real incidents are counted apart: a drill never stands in the way of a real one.
        """
        sev = Severity(severity)
        now = self.clock()
        # The common refusal (the team piling in on an open incident) is answered from committed
        # state without queueing behind the writers; the transaction below re-checks.
        if (peeked := self.peek_open_for(environment, drill=drill)) is not None:
            raise IncidentAlreadyOpen(peeked)
        with self.store.transaction():
            existing = self.open_for(environment, drill=drill)
            if existing is not None:
                raise IncidentAlreadyOpen(existing)
            # Drills are numbered apart (DRILL-n), so rehearsals never shift the real incident numbers.
            seq = self.store.next_value("drill" if drill else "incident")
            incident = Incident(
                id=f"DRILL-{seq}" if drill else f"RB-{seq}",
                environment=environment,
                severity=sev,
                target_minutes=sev.target_minutes,
                summary=summary,
                channel=channel,
                opened_by=opened_by,
                opened_at=now,
                drill=drill,
            )
            row = incident.model_dump(mode="json")
            row["seq"] = seq
            self.store.insert("incidents", row)
            self.store.insert_steps(incident.id, self._step_ids)
            self._append(
                incident.id,
                "incident.opened",
                opened_by,
                None,
                {"environment": environment, "severity": sev.value, "summary": summary, "drill": drill},
            )
        return incident

    def get(self, incident_id: str) -> Incident:
        row = self.store.row("incidents", "id = ?", [incident_id])
        if row is None:
            raise UnknownIncident(incident_id)
        return Incident.model_validate(row)

    def open_for(self, environment: str, *, drill: bool = False) -> Incident | None:
        """The open real incident of an environment (or its open drill, with ``drill=True``)."""
        row = self.store.row("incidents", _OPEN_IN_ENVIRONMENT, [environment, int(drill)])
        return Incident.model_validate(row) if row else None

    def peek_open_for(self, environment: str, *, drill: bool = False) -> Incident | None:
        """``open_for`` from committed state, without waiting for writers (Store.query_committed):
        cheap enough for an ack; a decision that matters is re-checked in a transaction."""
        rows = self.store.query_committed(
            f"SELECT * FROM incidents WHERE {_OPEN_IN_ENVIRONMENT}", (environment, int(drill))
        )
        return Incident.model_validate(rows[0]) if rows else None

    def by_thread(self, channel: str, thread_ts: str) -> Incident | None:
        row = self.store.row("incidents", "channel = ? AND thread_ts = ?", [channel, thread_ts])
        return Incident.model_validate(row) if row else None

    def incidents(self, state: IncidentState | str | None = None) -> list[Incident]:
        """Incidents, oldest first; e.g. ``incidents("open")`` to re-arm timers after a restart."""
        if state is None:
            rows = self.store.rows("incidents", order_by="seq")
        else:
            rows = self.store.rows("incidents", "state = ?", [IncidentState(state).value], order_by="seq")
        return [Incident.model_validate(r) for r in rows]

    def attach_thread(self, incident_id: str, thread_ts: str) -> bool:
        """Remember the thread that carries the incident (first write wins; True if it was set)."""
        self.get(incident_id)
        with self.store.transaction():
            self._upsert_message(incident_id, "parent", "parent", 0, thread_ts)
            return self.store.cond_update(
                "incidents", {"id": incident_id}, {"thread_ts": thread_ts}, {"thread_ts": None}
            )

    def set_section_message(self, incident_id: str, section_id: str, ts: str) -> None:
        self.get(incident_id)
        seq = 1 + [s.id for s in self.runbook.sections].index(self.runbook.section(section_id).id)
        self._upsert_message(incident_id, f"section:{section_id}", "section", seq, ts)

    def section_messages(self, incident_id: str) -> dict[str, str]:
        """Section id -> ts of the sections Slack has (read from the thread plan's ``messages``)."""
        rows = self.store.rows("messages", "incident_id = ? AND kind = 'section' AND ts IS NOT NULL", [incident_id])
        return {r["key"].removeprefix("section:"): r["ts"] for r in rows}

    def _upsert_message(self, incident_id: str, key: str, kind: str, seq: int, ts: str) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO messages(incident_id, key, kind, seq, ts, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(incident_id, key) DO UPDATE SET ts = excluded.ts",
                [incident_id, key, kind, seq, ts, _iso(self.clock())],
            )

    def resolve(self, incident_id: str, actor: str, resolution: str) -> bool:
        return self._close(incident_id, IncidentState.resolved, actor, resolution)

    def cancel(self, incident_id: str, actor: str, reason: str | None = None) -> bool:
        return self._close(incident_id, IncidentState.cancelled, actor, reason)

    def _close(self, incident_id: str, state: IncidentState, actor: str, text: str | None) -> bool:
        """Close an open incident (frees its environment); False if it was already closed."""
        with self.store.transaction():
            self.get(incident_id)
            changed = self.store.cond_update(
                "incidents",
                {"id": incident_id},
                {"state": state.value, "closed_at": _iso(self.clock()), "closed_by": actor, "resolution": text},
                {"state": IncidentState.open.value},
            )
            if changed:
                self._append(incident_id, f"incident.{state.value}", actor, None, {"resolution": text})
        return changed

    def reopen(self, incident_id: str, actor: str, reason: str | None = None) -> bool:
        """Reopen a closed incident (e.g. the fix did not hold); False if it is open already.

        Raises IncidentAlreadyOpen when its environment has another open incident by now. Closing
        it again writes a new record version; the earlier ones are kept.
        """
        with self.store.transaction():
            incident = self.get(incident_id)
            if incident.is_open:
                return False
            other = self.open_for(incident.environment)
            if other is not None:
                raise IncidentAlreadyOpen(other)
            changed = self.store.cond_update(
                "incidents",
                {"id": incident_id},
                {"state": IncidentState.open.value, "closed_at": None, "closed_by": None, "resolution": None},
                {"state": incident.state.value},
            )
            if changed:
                self._append(
                    incident_id, "incident.reopened", actor, None, {"reason": reason, "was": incident.state.value}
                )
        return changed

    def close(self, incident_id: str, actor: str, state: IncidentState | str) -> CloseOutcome:
        """Resolve or cancel on someone's click: the opener or an operator, never while a job runs.

        The resolution says how long it took against the severity's target, for the record.
        """
        target = IncidentState(state)
        if target == IncidentState.open:
            raise ValueError("close needs resolved or cancelled")
        verb = "resolve" if target == IncidentState.resolved else "cancel"
        refused = self.close_refusal(incident_id, actor, verb)
        if refused is not None:
            return refused
        incident = self.get(incident_id)
        minutes = (self.clock() - incident.opened_at).total_seconds() / 60
        if target == IncidentState.resolved:
            met = "met" if minutes <= incident.target_minutes else "missed"
            text = f"resolved after {minutes:.0f} min (target {incident.target_minutes} min {met})"
        else:
            text = f"cancelled after {minutes:.0f} min"
        if not self._close(incident.id, target, actor, text):
            return CloseOutcome(closed=False, incident=self.get(incident.id), refusal=CloseRefusal.already_closed)
        return CloseOutcome(closed=True, incident=self.get(incident.id), resolution=text)

    def close_refusal(self, incident_id: str, actor: str, verb: str) -> CloseOutcome | None:
        """Why ``actor`` may not ``verb`` (resolve, cancel, reopen) the incident now, or None.

        The opener may close their own incident (e.g. opened by mistake); otherwise operators only;
        and never while an agent job runs (its result must land in an open incident). A permission
        refusal is recorded. Resolve asks before opening its dialog, and again on submit.
        """
        incident = self.get(incident_id)
        if actor != incident.opened_by and not self.operators.allowed(actor)[0]:
            self.record(incident.id, "permission.refused", actor, attempted=verb, reason="not an operator")
            return CloseOutcome(closed=False, incident=incident, refusal=CloseRefusal.not_allowed)
        running = [j for j in self.jobs(incident.id) if j.state == JobState.running]
        if running:
            return CloseOutcome(
                closed=False,
                incident=incident,
                refusal=CloseRefusal.job_running,
                running_operation=running[0].operation,
            )
        if verb != "reopen" and not incident.is_open:
            return CloseOutcome(closed=False, incident=incident, refusal=CloseRefusal.already_closed)
        return None

    def authorize_run(self, incident_id: str, actor: str, attempted: str, step_id: str | None = None) -> Authorization:
        """Only operators run agent operations; a refusal is recorded in the timeline."""
        allowed, why = self.operators.allowed(actor)
        if not allowed:
            self.record(incident_id, "permission.refused", actor, step_id, attempted=attempted, reason=why)
        return Authorization(allowed=allowed, reason=why)

    # -- read model ---------------------------------------------------------------------------------

    def snapshot(self, incident_id: str) -> IncidentSnapshot:
        """The incident, its steps, messages, jobs and latest backup listing, from one read of the store."""
        with self.store.read():
            incident = self.get(incident_id)
            rows = {r["step_id"]: r for r in self.store.rows("steps", "incident_id = ?", [incident_id])}
            steps = {sid: StepState.model_validate(rows[sid]) for sid in self._step_ids if sid in rows}
            thread = {
                m.key: m
                for m in (
                    ThreadMessage.model_validate(r)
                    for r in self.store.rows("messages", "incident_id = ?", [incident_id], order_by="seq, key")
                )
            }
            jobs = [
                AgentJob.model_validate({**r, "display_ref": _ts(thread.get(f"job:{r['request_id']}"))})
                for r in self._job_rows(incident_id)
            ]
            return IncidentSnapshot(
                incident=incident,
                steps=steps,
                section_messages={m.ref: m.ts for m in thread.values() if m.kind == "section" and m.ts},
                jobs=jobs,
                backups=self._latest_backups(incident_id, jobs),
                thread=thread,
            )

    def latest_backups(self, incident_id: str) -> list[BackupInfo] | None:
        """The newest backup listing seen in this incident, None if none was."""
        with self.store.read():
            return self._latest_backups(incident_id, self.jobs(incident_id))

    def _latest_backups(self, incident_id: str, jobs: list[AgentJob]) -> list[BackupInfo] | None:
        rows = self.store.rows(
            "events",
            "incident_id = ? AND kind IN ('agent.backups_listed', 'agent.finished')",
            [incident_id],
            order_by="id DESC",
        )
        for row in rows:
            data = row.get("data") or {}
            if data.get("outcome") != "ok":
                continue
            if row["kind"] == "agent.backups_listed":
                return backups_of_result(data.get("result"))
            if data.get("operation") == "backups_list":
                job = next((j for j in jobs if j.request_id == data.get("request_id")), None)
                return backups_of_result(job.result if job else None)
        return None

    # -- choices ------------------------------------------------------------------------------------

    def choose_option(self, incident_id: str, option: int, actor: str) -> bool:
        """Record which rollback option the team follows; False (no event) if already chosen/closed."""
        self.runbook.option(option)
        return self._choose(incident_id, "chosen_option", option, actor, "option.chosen", "option")

    def choose_backup(self, incident_id: str, backup_name: str, actor: str) -> bool:
        """Record the backup that restore steps will use (a bare file name inside backups/)."""
        name = backup_name.strip()
        if not name or name in {".", ".."} or "/" in name or "\\" in name:
            raise ValueError(f"backup name must be a bare file name, got {backup_name!r}")
        return self._choose(incident_id, "chosen_backup", name, actor, "backup.chosen", "backup")

    def choose_backup_for_restore(self, incident_id: str, backup_name: str, actor: str) -> BackupChoiceOutcome:
        """Choose the backup the restores use; a new choice completes the runbook's backup-choice steps."""
        if not self.choose_backup(incident_id, backup_name, actor):
            return BackupChoiceOutcome(changed=False)
        name = backup_name.strip()
        completed = [
            step.id
            for step in self.runbook.backup_choice_steps()
            if self.transition(incident_id, step.id, "done", actor, note=f"chose {name}").changed
        ]
        return BackupChoiceOutcome(changed=True, completed_steps=completed)

    def _choose(self, incident_id: str, column: str, value: Any, actor: str, kind: str, key: str) -> bool:
        with self.store.transaction():
            incident = self.get(incident_id)
            previous = getattr(incident, column)
            if not incident.is_open or previous == value:
                return False
            changed = self.store.cond_update(
                "incidents",
                {"id": incident_id},
                {column: value},
                {column: previous, "state": IncidentState.open.value},
            )
            if changed:
                self._append(incident_id, kind, actor, None, {key: value, "previous": previous})
        return changed

    # -- steps --------------------------------------------------------------------------------------

    def steps(self, incident_id: str) -> dict[str, StepState]:
        """Every step's state, in runbook order."""
        rows = {r["step_id"]: r for r in self.store.rows("steps", "incident_id = ?", [incident_id])}
        if not rows:
            self.get(incident_id)
        return {sid: StepState.model_validate(rows[sid]) for sid in self._step_ids if sid in rows}

    def step_state(self, incident_id: str, step_id: str) -> StepState:
        self._check_step(step_id)
        row = self.store.row("steps", "incident_id = ? AND step_id = ?", [incident_id, step_id])
        if row is None:
            self.get(incident_id)
            raise UnknownStep(step_id)
        return StepState.model_validate(row)

    def transition(
        self, incident_id: str, step_id: str, action: str, actor: str, note: str | None = None
    ) -> Transition:
        """Apply a step action; ``changed`` False (and no event) if the step was not in a state for it."""
        if action not in RULES:
            raise ValueError(f"unknown step action {action!r}; expected one of {', '.join(STEP_ACTIONS)}")
        sources, target = RULES[action]
        with self.store.transaction():
            current = self.step_state(incident_id, step_id)
            prev = current.state
            if prev not in sources:
                code, reason = self._refusal(current, action, target)
                return Transition(changed=False, step=current, previous=prev, action=action, code=code, reason=reason)
            changes = {"state": target.value, "actor": actor, "at": _iso(self.clock()), "note": note}
            changed = self.store.cond_update(
                "steps", {"incident_id": incident_id, "step_id": step_id}, changes, {"state": prev.value}
            )
            if changed:
                self._append(
                    incident_id,
                    f"step.{action}",
                    actor,
                    step_id,
                    {"from": prev.value, "to": target.value, "note": note},
                )
            step = self.step_state(incident_id, step_id)
        if not changed:  # only possible if another process won the race
            return Transition(
                changed=False,
                step=step,
                previous=prev,
                action=action,
                code="same",
                reason=f"changed concurrently to {step.state.value}",
            )
        return Transition(changed=True, step=step, previous=prev, action=action)

    @staticmethod
    def _refusal(current: StepState, action: str, target: StepStatus) -> tuple[str, str]:
        state = current.state
        by = f" by {current.actor}" if current.actor else ""
        if state == R:
            return "running", "running"
        if state == target:
            return "same", f"already {state.value}{by}"
        if state in (D, S) and action in ("done", "skip", "start", "retry"):
            return "not_allowed", f"already {state.value}{by}; undo it first"
        return "not_allowed", f"cannot {action} a {state.value} step"

    def _check_step(self, step_id: str) -> None:
        if step_id not in self._step_set:
            raise UnknownStep(step_id)

    # -- events -------------------------------------------------------------------------------------

    def record(
        self,
        incident_id: str,
        kind: str,
        actor: str | None = None,
        step_id: str | None = None,
        **data: Any,
    ) -> Event:
        """Append a timeline event (pages, acks, thread messages, ...) to an incident."""
        with self.store.transaction():
            self.get(incident_id)
            return self._append(incident_id, kind, actor, step_id, data)

    def record_thread_message(
        self, incident_id: str, author: str | None, ts: str, text: str, files: list[str] | None = None
    ) -> bool:
        """Keep what someone wrote in the incident's thread, once per message ``ts`` (Slack redelivers
        events it thinks were not acked); False if it was already kept."""
        with self.store.transaction():
            self.get(incident_id)
            seen = self.store.query(
                "SELECT 1 FROM events WHERE incident_id = ? AND kind = 'thread.message' "
                "AND json_extract(data, '$.ts') = ? LIMIT 1",
                (incident_id, ts),
            )
            if seen:
                return False
            data: dict[str, Any] = {"ts": ts, "text": text}
            if files:
                data["files"] = files
            self._append(incident_id, "thread.message", author, None, data)
            return True

    def events(self, incident_id: str) -> list[Event]:
        rows = self.store.rows("events", "incident_id = ?", [incident_id], order_by="id")
        return [Event.model_validate(r) for r in rows]

    def _append(
        self, incident_id: str, kind: str, actor: str | None, step_id: str | None, data: dict[str, Any]
    ) -> Event:
        row = {
            "incident_id": incident_id,
            "at": _iso(self.clock()),
            "actor": actor,
            "kind": kind,
            "step_id": step_id,
            "data": data,
        }
        rowid = self.store.insert("events", row)
        return Event.model_validate({**row, "id": rowid})

    # -- agent jobs ---------------------------------------------------------------------------------

    def agent_args(self, incident_id: str, step_id: str) -> dict[str, Any]:
        """The arguments for a step's agent operation, with incident choices filled in."""
        step = self.runbook.agent_step(step_id)
        if step is None:
            raise ValueError(f"step {step_id!r} has no agent operation")
        args = dict(step.agent_args)
        if step.uses_chosen_backup:
            backup = self.get(incident_id).chosen_backup
            if not backup:
                raise MissingChoice(f"step {step_id!r} needs a chosen backup first")
            # verify compares with the backup; restore restores it; replace_db copies it over main.db.
            key = {"verify": "baseline_backup", "replace_db": "source"}.get(step.agent_op or "", "backup")
            args[key] = backup
        elif step.agent_op == "verify":
            # a baseline someone picked (after an inconclusive verify, or for option 2) is the one to use
            chosen = self.get(incident_id).chosen_backup
            if chosen:
                args["baseline_backup"] = chosen
        return args

    def begin_job(
        self,
        incident_id: str,
        step_id: str,
        operation: str,
        args: dict[str, Any],
        actor: str,
        request_id: str,
        *,
        reopen_done: bool = False,
    ) -> AgentJob | None:
        """Move the step to running and record the job, atomically. ``reopen_done``: a side
        operation (recover_journal offered by a result) may also run under a step that is done.

        Returns None (nothing written) if the step is not pending/failed, e.g. already running after
        a second click, or if ``request_id`` is already known: at most one job per click.
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown agent operation {operation!r}")
        with self.store.transaction():
            if not self.get(incident_id).is_open:
                raise IncidentClosed(f"incident {incident_id} is closed")
            current = self.step_state(incident_id, step_id)
            allowed = (P, F, D) if reopen_done else (P, F)
            if current.state not in allowed or self.store.row("agent_jobs", "request_id = ?", [request_id]):
                return None
            now = _iso(self.clock())
            if not self.store.cond_update(
                "steps",
                {"incident_id": incident_id, "step_id": step_id},
                {"state": R.value, "actor": actor, "at": now, "note": None, "job_id": request_id},
                {"state": current.state.value},
            ):
                return None
            job = AgentJob(
                request_id=request_id,
                incident_id=incident_id,
                step_id=step_id,
                operation=operation,
                args=args,
                started_by=actor,
                started_at=self.clock(),
            )
            self.store.insert("agent_jobs", job.model_dump(mode="json"))
            self._append(
                incident_id,
                "agent.started",
                actor,
                step_id,
                {"request_id": request_id, "operation": operation, "args": args},
            )
        return job

    def finish_job(
        self,
        request_id: str,
        outcome: AgentOutcome | str,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> AgentJob:
        """Record an agent result and settle the step: ok -> done; noop -> done ("nothing to do");
        anything else (failed, refused, invalid, error, unreachable, ...) -> failed, reason as note.

        Idempotent: finishing a finished job changes nothing and returns it as stored. An outcome
        that is not an ``AgentOutcome`` is a ValueError (nothing written).
        """
        outcome = AgentOutcome(outcome)
        with self.store.transaction():
            job = self.job(request_id)
            if job.state == JobState.finished:
                return job
            now = _iso(self.clock())
            if not self.store.cond_update(
                "agent_jobs",
                {"request_id": request_id},
                {
                    "state": JobState.finished.value,
                    "outcome": outcome.value,
                    "result": result,
                    "error": error,
                    "finished_at": now,
                },
                {"state": JobState.running.value},
            ):
                return self.job(request_id)
            if outcome in DONE_OUTCOMES:
                target, note = D, DONE_OUTCOMES[outcome]
            elif outcome == "refused" and (error or {}).get("code") == "app_state_unknown":
                target, note = F, f"{UNPROVABLE_NOTE}: {(error or {}).get('message', '')}"
            elif outcome == "inconclusive":
                target, note = F, f"{INCONCLUSIVE_NOTE}: {(result or {}).get('summary') or 'a check could not be made'}"
            else:
                target, note = F, _failure_note(outcome, result, error)
            checks = _checks_of(result)
            own = self.runbook.step(job.step_id)
            verdict = _judge(own, job.operation, checks) if own.satisfied_by and checks else None
            if verdict is not None:  # the step says which checks decide it, not the whole outcome
                target, note = verdict
            if getattr(own, "agent_op", None) != job.operation:
                # a side operation (recover_journal) never completes the step: it stays to be retried
                target, note = F, f"{job.operation} {outcome.value}: retry the step"
            step_changed = self.store.cond_update(
                "steps",
                {"incident_id": job.incident_id, "step_id": job.step_id},
                {"state": target.value, "at": now, "note": note},
                {"state": R.value, "job_id": request_id},
            )
            self._append(
                job.incident_id,
                "agent.finished",
                job.started_by,
                job.step_id,
                {
                    "request_id": request_id,
                    "operation": job.operation,
                    "outcome": outcome.value,
                    "step_state": target.value if step_changed else None,
                    "note": note,
                    "summary": (result or {}).get("summary"),
                    "error": error,
                },
            )
            if checks:
                self._tick_from_checks(job, checks, now)
            return self.job(request_id)

    def _tick_from_checks(self, job: AgentJob, checks: dict[str, dict[str, Any]], now: str) -> None:
        """Steps of the job's section that declare this operation's checks: all passing ticks them,
        one failing fails them with its detail. A person's Done/Skip is never overridden; Undo works."""
        section = self.runbook.section_of(job.step_id)
        for step, _depth in section.iter_steps():
            if step.id == job.step_id:
                continue
            verdict = _judge(step, job.operation, checks)
            if verdict is None:
                continue
            target, note = verdict
            current = self.step_state(job.incident_id, step.id)
            by_agent = current.actor == AGENT_ACTOR
            if current.state not in (P, F) and not (current.state == D and by_agent):
                continue
            if current.state == target and current.note == note:
                continue
            if self.store.cond_update(
                "steps",
                {"incident_id": job.incident_id, "step_id": step.id},
                {"state": target.value, "actor": AGENT_ACTOR, "at": now, "note": note, "job_id": job.request_id},
                {"state": current.state.value},
            ):
                self._append(
                    job.incident_id,
                    "step.checked",
                    AGENT_ACTOR,
                    step.id,
                    {"from": current.state.value, "to": target.value, "note": note, "request_id": job.request_id},
                )

    def job(self, request_id: str) -> AgentJob:
        row = self.store.row("agent_jobs", "request_id = ?", [request_id])
        if row is None:
            raise UnknownJob(request_id)
        return self._job(row)

    def jobs(self, incident_id: str) -> list[AgentJob]:
        return [self._job(r) for r in self._job_rows(incident_id)]

    def _job_rows(self, incident_id: str) -> list[dict[str, Any]]:
        return self.store.rows("agent_jobs", "incident_id = ?", [incident_id], order_by="started_at, rowid")

    def running_jobs(self) -> list[AgentJob]:
        """Jobs without a result, across incidents: after a restart, poll the agent for these."""
        rows = self.store.rows("agent_jobs", "state = ?", [JobState.running.value], order_by="started_at")
        return [self._job(r) for r in rows]

    def _job(self, row: dict[str, Any]) -> AgentJob:
        # Where the job is shown is the thread plan's record (messages), not the v1 column.
        key = [row["incident_id"], f"job:{row['request_id']}"]
        shown = self.store.row("messages", "incident_id = ? AND key = ?", key)
        return AgentJob.model_validate({**row, "display_ref": shown["ts"] if shown else None})

    def set_job_display_ref(self, request_id: str, ref: str) -> bool:
        """Remember where the job's progress is shown (the ts of its thread message)."""
        job = self.job(request_id)
        if job.display_ref == ref:
            return False
        self._upsert_message(job.incident_id, f"job:{request_id}", "job", 1000, ref)
        return True


def _ts(message: ThreadMessage | None) -> str | None:
    return message.ts if message else None


def _checks_of(result: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """name -> check of an agent result (verify, check_api); empty for results without checks."""
    raw = (result or {}).get("checks")
    if not isinstance(raw, list):
        return {}
    return {str(c["name"]): c for c in raw if isinstance(c, dict) and "name" in c}


def _judge(step: RunbookStep, operation: str, checks: dict[str, dict[str, Any]]) -> tuple[StepStatus, str] | None:
    """(done|failed, note) for a step from one result's checks, or None when they don't decide it
    (not this operation's checks, a check missing, or only inconclusive ones)."""
    wanted = [c.check for c in step.satisfied_by if c.operation == operation]
    failing = [c.check for c in step.failed_by if c.operation == operation]
    if not wanted and not failing:
        return None
    bad = [
        checks[name]
        for name in dict.fromkeys([*wanted, *failing])
        if name in checks and not checks[name].get("passed") and not checks[name].get("inconclusive")
    ]
    if bad:
        return F, "; ".join(f"{c['name']}: {c.get('detail', '')}" for c in bad)
    if wanted and all(checks.get(name, {}).get("passed") for name in wanted):
        return D, "; ".join(f"{name} ✓ {checks[name].get('detail', '')}" for name in wanted)
    return None


def _failure_note(outcome: str, result: dict[str, Any] | None, error: dict[str, Any] | None) -> str:
    detail = (error or {}).get("message") or (result or {}).get("summary")
    return f"{outcome}: {detail}" if detail else outcome


def backups_of_result(result: dict[str, Any] | None) -> list[BackupInfo]:
    """The backups of a ``backups_list`` result; an entry this release can't read is left out."""
    out: list[BackupInfo] = []
    for raw in (result or {}).get("backups", []) or []:
        try:
            out.append(BackupInfo.model_validate(raw))
        except ValidationError:
            continue
    return out
