"""The incident notes kept live in the thread: a read model of where the incident stands right now.

Built from the store on every change (never patched), so a lost edit heals on the next one. The
Slack edge renders it into the pinned notes message; nothing here knows about Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import BaseModel, Field

from bot.domain import AgentJob
from bot.incidents import IncidentService
from bot.record.builder import page_from_row, read_pages
from bot.record.model import RecordPage, RecordPerson
from bot.record.timeline import KEY_EVENT_KINDS, describe_event
from bot.reminders import current_step
from ops.models import utcnow

SHA_PREFIX = 12
DECISIONS_SHOWN = 8


class NotesStep(BaseModel):
    step_id: str
    title: str
    state: str
    holder: str | None = None
    since: datetime | None = None


class NotesDecision(BaseModel):
    at: datetime
    by: str | None
    text: str


class IncidentNotes(BaseModel):
    incident_id: str
    environment: str
    state: str
    severity: str
    target_minutes: int
    opened_at: datetime
    due_at: datetime
    minutes_left: float = Field(description="negative once the target has passed")
    pages: list[RecordPage] = Field(default_factory=list)
    chosen_option: int | None = None
    option_title: str | None = None
    current_step: NotesStep | None = None
    last_agent_result: str | None = None
    rows_lost: int | None = Field(default=None, description="rows the last rollback reported lost; None: no rollback")
    rows_lost_names: list[str] = Field(default_factory=list)
    backup_restored: str | None = None
    backup_sha256_prefix: str | None = None
    decisions: list[NotesDecision] = Field(default_factory=list)


def _last(jobs: list[AgentJob], operation: str) -> AgentJob | None:
    done = [j for j in jobs if j.operation == operation and j.outcome == "ok"]
    return done[-1] if done else None


def build_notes(
    service: IncidentService,
    incident_id: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    role_names: Mapping[str, str] | None = None,
) -> IncidentNotes:
    incident = service.get(incident_id)
    now = clock()
    runbook = service.runbook
    steps = service.steps(incident_id)
    jobs = service.jobs(incident_id)
    events = service.events(incident_id)

    def plain(user_id: str | None) -> RecordPerson | None:
        return RecordPerson(id=user_id, name=user_id) if user_id else None

    current = None
    found = current_step(service, incident)  # the one rule for "the step the team is on"
    if found is not None:
        current = NotesStep(
            step_id=found.step_id,
            title=found.title,
            state=found.state.value,
            holder=found.holder,
            since=steps[found.step_id].at,
        )
    finished = [j for j in jobs if j.finished_at is not None]
    last_result = None
    if finished:
        j = max(finished, key=lambda x: x.finished_at or now)
        detail = (j.result or {}).get("summary") or (j.error or {}).get("message") or ""
        last_result = f"`{j.operation}` {j.outcome}: {detail}".rstrip(": ")
    rollback = _last(jobs, "rollback")
    lost = list((rollback.result or {}).get("lost_rows") or []) if rollback else []
    restore = _last(jobs, "restore")
    restored = (restore.result or {}) if restore else {}
    titles = {step.id: step.title for _, step, _ in runbook.iter_steps()}
    decisions = []
    for event in events:
        if event.kind in KEY_EVENT_KINDS or (
            event.kind == "agent.finished" and event.data.get("outcome") not in ("ok", "noop")
        ):
            text, _ = describe_event(event, lambda sid: titles.get(sid, sid))
            decisions.append(NotesDecision(at=event.at, by=event.actor, text=text))
    option_title = runbook.option(incident.chosen_option).title if incident.chosen_option else None
    return IncidentNotes(
        incident_id=incident.id,
        environment=incident.environment,
        state=incident.state.value,
        severity=incident.severity.value,
        target_minutes=incident.target_minutes,
        opened_at=incident.opened_at,
        due_at=incident.due_at,
        minutes_left=round((incident.due_at - now).total_seconds() / 60, 1),
        pages=[page_from_row(r, plain, role_names) for r in read_pages(service, incident_id)],
        chosen_option=incident.chosen_option,
        option_title=option_title,
        current_step=current,
        last_agent_result=last_result,
        rows_lost=len(lost) if rollback else None,
        rows_lost_names=[str(r.get("file_name")) for r in lost[:5] if isinstance(r, dict)],
        backup_restored=restored.get("backup"),
        backup_sha256_prefix=(str(restored.get("backup_sha256") or "")[:SHA_PREFIX] or None),
        decisions=decisions[-DECISIONS_SHOWN:],
    )
