"""Plain data the bot's domain hands around: enums and pydantic models, no behaviour.

Kept apart from the service (bot/incidents.py) and the store (bot/store.py) so the Slack layer can
import the shapes without pulling in SQLite, and so every layer agrees on one spelling of each state.
Nothing here knows about Slack: ``thread_ts``/``channel`` are opaque strings and an agent job's
progress message is an opaque ``display_ref``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field


class Severity(StrEnum):
    critical = "critical"
    major = "major"
    minor = "minor"

    @property
    def target_minutes(self) -> int:
        """Time to resolve we aim for; escalation timers key off it."""
        return SEVERITY_TARGET_MINUTES[self]


SEVERITY_TARGET_MINUTES: dict[Severity, int] = {
    Severity.critical: 15,
    Severity.major: 60,
    Severity.minor: 240,
}


# Who the stakeholder notice goes to (the checklist's Communication steps), each mapped to a channel
# in the contacts file.
Audience = Literal["development_team", "qa", "customer_support", "end_users"]
AUDIENCE_LABELS: dict[str, str] = {
    "development_team": "Development team",
    "qa": "Quality assurance team",
    "customer_support": "Customer support team",
    "end_users": "End users",
}


class IncidentState(StrEnum):
    open = "open"
    resolved = "resolved"
    cancelled = "cancelled"


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    skipped = "skipped"


class JobState(StrEnum):
    running = "running"
    finished = "finished"


class AgentOutcome(StrEnum):
    """How an agent job ended, as the bot records it: every outcome the agent returns
    (``ops.models.JobOutcome``), plus the ones the bot decides when the call itself failed."""

    ok = "ok"
    failed = "failed"  # it ran; a check or an action failed
    noop = "noop"  # nothing to do
    inconclusive = "inconclusive"  # a check could not be made (e.g. no baseline anywhere): not a success
    refused = "refused"  # unsafe right now (app running, hot journal, busy); nothing changed
    invalid = "invalid"  # rejected input; nothing changed
    error = "error"  # the operation or the bot crashed
    unreachable = "unreachable"  # bot side: no answer from the agent
    timeout = "timeout"  # bot side: no result within the deadline
    unauthorized = "unauthorized"  # bot side: the agent rejected the signature (401)
    protocol = "protocol"  # bot side: an answer the bot could not read


# Outcomes that complete the step (with the note shown next to it); anything else fails it.
DONE_OUTCOMES: dict[AgentOutcome, str | None] = {AgentOutcome.ok: None, AgentOutcome.noop: "nothing to do"}


StepAction = Literal["done", "skip", "undo", "start", "succeed", "fail", "retry"]
STEP_ACTIONS: tuple[str, ...] = get_args(StepAction)


class Incident(BaseModel):
    id: str
    environment: str
    severity: Severity
    target_minutes: int
    summary: str
    channel: str
    thread_ts: str | None = None
    state: IncidentState = IncidentState.open
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    chosen_option: int | None = None
    chosen_backup: str | None = None
    resolution: str | None = None
    drill: bool = False  # a rehearsal: the agent works on a scratch copy; kept out of incident stats

    @property
    def is_open(self) -> bool:
        return self.state == IncidentState.open

    @property
    def due_at(self) -> datetime:
        """When the severity's target time runs out."""
        return self.opened_at + timedelta(minutes=self.target_minutes)


class StepState(BaseModel):
    incident_id: str
    step_id: str
    state: StepStatus = StepStatus.pending
    actor: str | None = None
    at: datetime | None = None
    note: str | None = None
    job_id: str | None = None


class Transition(BaseModel):
    """What a step action did. ``changed`` False means nothing was written (no event either).

    ``code`` is machine-readable (``ok``, ``same``, ``running``, ``not_allowed``); ``reason`` is a
    short human sentence ("already done by U123"), empty when changed.
    """

    changed: bool
    step: StepState
    previous: StepStatus
    action: str
    code: str = "ok"
    reason: str = ""


class Event(BaseModel):
    id: int
    incident_id: str
    at: datetime
    actor: str | None = None
    kind: str
    step_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class AgentJob(BaseModel):
    request_id: str
    incident_id: str
    step_id: str
    operation: str
    args: dict[str, Any] = Field(default_factory=dict)
    state: JobState = JobState.running
    outcome: AgentOutcome | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started_by: str
    started_at: datetime
    finished_at: datetime | None = None
    display_ref: str | None = None


class Page(BaseModel):
    """One page of one person for a role in a round; ``page_key`` is unique, so nobody is paged twice."""

    id: int
    page_key: str
    incident_id: str
    user_id: str
    role: str
    round: int = 0
    paged_at: datetime
    via: str = "slack"
    state: str = "sending"  # sending -> sent | failed (the DM could not be posted)
    dm_channel: str | None = None
    dm_ts: str | None = None
    error: str | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None


class RoleAck(BaseModel):
    incident_id: str
    role: str
    acked_by: str
    acked_at: datetime
    via: str | None = None
    seconds_to_ack: float | None = None
