"""The incident record as one pydantic model: its JSON dump is the export, the schema is published.

The model is the single definition: ``docs/incident-record.schema.json`` is generated from it
(``rollback-bot record-schema``) and the Markdown is rendered from an instance, never from the store
directly, so the three cannot drift. Times are timezone-aware UTC here; renderers convert them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RECORD_FORMAT_VERSION = 1
RECORD_SCHEMA_ID = "https://rollback-bot.invalid/schemas/incident-record-v1.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordPerson(_Model):
    """A Slack user as the record names them: the id (stable) and the display name (readable)."""

    id: str
    name: str


class RecordSummary(_Model):
    incident_id: str
    environment: str
    severity: Literal["critical", "major", "minor"]
    target_minutes: int
    summary: str
    state: Literal["open", "resolved", "cancelled"]
    opened_by: RecordPerson
    opened_at: datetime
    closed_by: RecordPerson | None = None
    closed_at: datetime | None = None
    chosen_option: int | None = None
    chosen_backup: str | None = None


class RecordMetric(_Model):
    """One duration from the incident's opening, measured against the severity's target."""

    name: Literal["time_to_first_ack", "time_to_rollback_complete", "time_to_resolved"]
    label: str
    minutes: float | None = Field(description="None: it has not happened (yet)")
    target_minutes: int
    met: bool | None = Field(description="None while it has not happened and the target has not passed")
    at: datetime | None = None
    note: str = ""


class RecordPage(_Model):
    """One page of a person, and whether and when they acknowledged it."""

    person: RecordPerson
    role: str | None = None
    round: int | None = Field(default=None, description="escalation round, when paged by escalation")
    paged_at: datetime | None = None
    via: str | None = None
    state: str | None = Field(default=None, description="e.g. sent, deferred, failed (as the pages table says)")
    error: str | None = None
    acked_by: RecordPerson | None = None
    acked_at: datetime | None = None


class TimelineEntry(_Model):
    """One line of the timeline: a bot event (click, agent call, choice) or a person's thread message."""

    at: datetime
    source: Literal["bot", "thread"]
    kind: str = Field(description="event kind (e.g. step.done, agent.finished) or 'message'")
    actor: RecordPerson | None = None
    text: str = Field(description="what happened, one line for events; the message text for messages")
    key: bool = Field(default=False, description="a decision, a failure, or a message marked with a 📌 reaction")
    step_id: str | None = None
    ts: str | None = Field(default=None, description="Slack message ts (thread messages)")
    edited_at: datetime | None = None
    original_text: str | None = Field(default=None, description="the text before the last edit, if known")
    deleted_at: datetime | None = None
    files: list[str] = Field(default_factory=list)


class RecordStep(_Model):
    step_id: str
    section: str
    title: str
    state: Literal["pending", "running", "done", "failed", "skipped"]
    actor: RecordPerson | None = None
    at: datetime | None = None
    note: str | None = None


class LostRowRecord(_Model):
    id: int | None = None
    file_name: str
    type: str | None = None
    reason: str | None = None


class BackupUse(_Model):
    """A backup an operation read or wrote, with the SHA-256 that pins its exact bytes."""

    role: Literal["restored", "safety copy", "created", "baseline"]
    name: str
    sha256: str | None = None


class CheckRecord(_Model):
    name: str
    passed: bool
    detail: str = ""


class RecordAgentOperation(_Model):
    request_id: str
    step_id: str
    step_title: str
    operation: str
    args: dict[str, Any] = Field(default_factory=dict)
    started_by: RecordPerson
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str | None = Field(
        description="ok, failed, noop, refused, invalid, error, unreachable, ...; None: running"
    )
    summary: str = ""
    counts_before: dict[str, int | None] = Field(default_factory=dict)
    counts_after: dict[str, int | None] = Field(default_factory=dict)
    rows_lost: list[LostRowRecord] = Field(default_factory=list)
    backups: list[BackupUse] = Field(default_factory=list)
    checks: list[CheckRecord] = Field(default_factory=list)
    failed_checks: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="refusal or error: 'code: reason'")
    log_lines: list[str] = Field(default_factory=list, description="log excerpt the team pulled (tail_logs)")
    result: dict[str, Any] | None = Field(default=None, description="the agent's full structured result")


class ResolutionStep(_Model):
    """A step that moved the incident forward (done, or an agent operation that succeeded)."""

    at: datetime
    step_id: str
    title: str
    by: RecordPerson | None = None
    detail: str = ""


class FollowUpItem(_Model):
    step_id: str
    title: str
    owner: RecordPerson | None = None
    due_at: datetime | None = None
    state: str = "open"
    done_by: RecordPerson | None = None
    done_at: datetime | None = None


class ClosingNotes(_Model):
    """What people wrote when closing (the Resolve dialog), or the reason for a cancel."""

    root_cause: str = ""
    resolution_summary: str = ""
    lessons_learned: str = ""


class IncidentRecord(_Model):
    """Everything the morning-after reader and the auditor need, in one document."""

    format_version: int = RECORD_FORMAT_VERSION
    kind: Literal["full", "short"] = Field(description="short: a cancelled incident (false alarm)")
    version: int = Field(ge=1, description="1 for the first close; each reopen/resolve adds one")
    generated_at: datetime
    generated_by: RecordPerson | None = None
    time_zone: str = Field(description="IANA zone the Markdown shows times in")
    summary: RecordSummary
    metrics: list[RecordMetric]
    pages: list[RecordPage] = Field(default_factory=list)
    pages_note: str = Field(default="", description="e.g. 'no pages' when nobody was paged")
    notes: ClosingNotes = Field(default_factory=ClosingNotes)
    timeline: list[TimelineEntry]
    thread_note: str = Field(default="", description="why the thread's messages are missing or partial, if so")
    steps: list[RecordStep] = Field(default_factory=list)
    agent_operations: list[RecordAgentOperation] = Field(default_factory=list)
    resolution_steps: list[ResolutionStep] = Field(default_factory=list)
    follow_ups: list[FollowUpItem] = Field(default_factory=list)
