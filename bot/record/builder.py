"""Assemble an :class:`IncidentRecord` from the store and the thread's messages.

The builder reads; it never writes. Storing a version is bot/record/versions.py's job, so a
record can be previewed (the Resolve dialog's prefill, the CLI) without side effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from bot.domain import AgentJob, Event, StepStatus
from bot.incidents import IncidentService
from bot.record.metrics import compute_metrics
from bot.record.model import (
    BackupUse,
    CheckRecord,
    ClosingNotes,
    FollowUpItem,
    IncidentRecord,
    LostRowRecord,
    RecordAgentOperation,
    RecordPage,
    RecordPerson,
    RecordStep,
    RecordSummary,
    ResolutionStep,
)
from bot.record.timeline import Labels, SlackThreadMessage, merge_timeline
from ops.models import utcnow


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def read_pages(service: IncidentService, incident_id: str) -> list[dict[str, Any]]:
    """Rows of the pages table for the incident, oldest first; [] when the table does not exist."""
    if not service.store.db["pages"].exists():
        return []
    columns = {c.name for c in service.store.db["pages"].columns}
    order = "paged_at, id" if "paged_at" in columns else "rowid"
    return service.store.rows("pages", "incident_id = ?", [incident_id], order_by=order)


def _counts(value: Any) -> dict[str, int | None]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if v is None or isinstance(v, int)}


def _backups(operation: str, result: Mapping[str, Any]) -> list[BackupUse]:
    out: list[BackupUse] = []
    if operation == "restore" and result.get("backup"):
        out.append(BackupUse(role="restored", name=str(result["backup"]), sha256=result.get("backup_sha256")))
        if result.get("pre_restore_backup"):
            out.append(
                BackupUse(
                    role="safety copy", name=str(result["pre_restore_backup"]), sha256=result.get("pre_restore_sha256")
                )
            )
    elif operation == "rollback" and result.get("backup"):
        out.append(BackupUse(role="safety copy", name=str(result["backup"]), sha256=result.get("backup_sha256")))
    elif operation == "backups_create" and result.get("name"):
        out.append(BackupUse(role="created", name=str(result["name"]), sha256=result.get("sha256")))
    elif operation == "verify" and str(result.get("baseline_source") or "").startswith("backup:"):
        out.append(BackupUse(role="baseline", name=str(result["baseline_source"]).removeprefix("backup:")))
    return out


def agent_operation(
    job: AgentJob, step_title: str, person: Callable[[str | None], RecordPerson | None]
) -> RecordAgentOperation:
    result = job.result or {}
    error = job.error or {}
    err_text = None
    if error:
        err_text = f"{error.get('code') or error.get('kind')}: {error.get('message', '')}".rstrip(": ")
    checks = [
        CheckRecord(name=str(c.get("name")), passed=bool(c.get("passed")), detail=str(c.get("detail") or ""))
        for c in result.get("checks") or []
        if isinstance(c, dict)
    ]
    failed = [str(x) for x in result.get("failed_checks") or []] or [c.name for c in checks if not c.passed]
    counts_after = _counts(result.get("counts_after") or (result.get("counts") if job.operation == "verify" else None))
    started_by = person(job.started_by) or RecordPerson(id=job.started_by, name=job.started_by)
    return RecordAgentOperation(
        request_id=job.request_id,
        step_id=job.step_id,
        step_title=step_title,
        operation=job.operation,
        args={k: v for k, v in job.args.items()},
        started_by=started_by,
        started_at=job.started_at,
        finished_at=job.finished_at,
        outcome=job.outcome,
        summary=str(result.get("summary") or ""),
        counts_before=_counts(result.get("counts_before")),
        counts_after=counts_after,
        rows_lost=[
            LostRowRecord(
                id=r.get("id"), file_name=str(r.get("file_name", "")), type=r.get("type"), reason=r.get("reason")
            )
            for r in result.get("lost_rows") or []
            if isinstance(r, dict)
        ],
        backups=_backups(job.operation, result),
        checks=checks,
        failed_checks=failed,
        warnings=[str(w) for w in result.get("warnings") or []],
        error=err_text,
        log_lines=[str(x) for x in result.get("lines") or []] if job.operation == "tail_logs" else [],
        result=job.result,
    )


def page_from_row(
    row: Mapping[str, Any],
    person: Callable[[str | None], RecordPerson | None],
    role_names: Mapping[str, str] | None = None,
) -> RecordPage:
    """A pages-table row as the record shows it (tolerates the column names either schema uses)."""
    who = str(row.get("user_id") or row.get("contact") or row.get("contact_id") or "?")
    acked_by = row.get("acked_by")
    return RecordPage(
        person=person(who) or RecordPerson(id=who, name=who),
        role=(role_names or {}).get(str(row.get("role")), row.get("role")),
        round=row.get("round"),
        paged_at=_parse_time(row.get("paged_at") or row.get("sent_at")),
        via=row.get("via") or row.get("channel"),
        state=row.get("state"),
        error=row.get("error"),
        acked_by=(person(acked_by) or RecordPerson(id=acked_by, name=acked_by)) if acked_by else None,
        acked_at=_parse_time(row.get("acked_at")),
    )


class RecordBuilder:
    """Builds records for one service; ``names`` maps user ids to display names (the edge resolves them)."""

    def __init__(self, service: IncidentService, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.clock = clock

    def build(
        self,
        incident_id: str,
        *,
        version: int = 1,
        kind: Literal["full", "short"] = "full",
        notes: ClosingNotes | None = None,
        thread: list[SlackThreadMessage] | None = None,
        thread_note: str = "",
        own_ids: frozenset[str] = frozenset(),
        names: Mapping[str, str] | None = None,
        time_zone: str = "UTC",
        generated_by: str | None = None,
        follow_ups: Mapping[str, FollowUpItem] | None = None,
        role_names: Mapping[str, str] | None = None,
    ) -> IncidentRecord:
        svc = self.service
        incident = svc.get(incident_id)
        names = names or {}
        now = self.clock()

        people: dict[str, RecordPerson] = {}

        def person(user_id: str | None) -> RecordPerson | None:
            if not user_id:
                return None
            if user_id not in people:  # one model per person, shared by every line they appear on
                people[user_id] = RecordPerson(id=user_id, name=names.get(user_id, user_id))
            return people[user_id]

        titles = {step.id: step.title for _, step, _ in svc.runbook.iter_steps()}

        def step_title(step_id: str) -> str:
            return titles.get(step_id, step_id)

        events: list[Event] = svc.events(incident_id)
        jobs = svc.jobs(incident_id)
        labels = Labels(people=dict(names), roles=dict(role_names or {}))
        pages = [page_from_row(row, person, labels.roles) for row in read_pages(svc, incident_id)]
        opened_by = person(incident.opened_by) or RecordPerson(id=incident.opened_by, name=incident.opened_by)
        summary = RecordSummary(
            incident_id=incident.id,
            environment=incident.environment,
            severity=incident.severity.value,
            target_minutes=incident.target_minutes,
            summary=incident.summary,
            state=incident.state.value,
            opened_by=opened_by,
            opened_at=incident.opened_at,
            closed_by=person(incident.closed_by),
            closed_at=incident.closed_at,
            chosen_option=incident.chosen_option,
            chosen_backup=incident.chosen_backup,
        )
        timeline = merge_timeline(
            events,
            thread,
            parent_ts=incident.thread_ts,
            own_ids=own_ids,
            person=person,
            step_title=step_title,
            labels=labels,
        )
        if thread is None and not thread_note:
            thread_note = "the thread was not read; messages come from the events the bot received"
        steps_state = svc.steps(incident_id)
        steps: list[RecordStep] = []
        for section, step, _depth in svc.runbook.iter_steps():
            st = steps_state.get(step.id)
            if st is None:
                continue
            steps.append(
                RecordStep(
                    step_id=step.id,
                    section=section.title,
                    title=step.title,
                    state=st.state.value,
                    actor=person(st.actor),
                    at=st.at,
                    note=st.note,
                )
            )
        ops = [agent_operation(j, step_title(j.step_id), person) for j in jobs]
        return IncidentRecord(
            kind=kind,
            version=version,
            generated_at=now,
            generated_by=person(generated_by),
            time_zone=time_zone,
            summary=summary,
            metrics=compute_metrics(incident, jobs, pages, now),
            pages=pages,
            pages_note="" if pages else "no pages",
            notes=notes or ClosingNotes(),
            timeline=timeline,
            thread_note=thread_note,
            steps=steps if kind == "full" else [s for s in steps if s.state != "pending"],
            agent_operations=ops,
            resolution_steps=self._resolution_steps(steps, ops),
            follow_ups=self._follow_ups(
                steps, follow_ups or self._assigned(incident_id, person), {s.id for s in svc.runbook.follow_up_steps()}
            ),
        )

    @staticmethod
    def _resolution_steps(steps: list[RecordStep], ops: list[RecordAgentOperation]) -> list[ResolutionStep]:
        """Done steps in the order they happened, each with the agent result that settled it."""
        last_ok: dict[str, RecordAgentOperation] = {}
        for op in ops:
            if op.outcome in ("ok", "noop"):
                last_ok[op.step_id] = op
        done = [s for s in steps if s.state == StepStatus.done.value and s.at is not None]
        done.sort(key=lambda s: s.at or datetime.min)
        out = []
        for s in done:
            settled = last_ok.get(s.step_id)
            detail = f"`{settled.operation}`: {settled.summary}" if settled else (s.note or "")
            assert s.at is not None
            out.append(ResolutionStep(at=s.at, step_id=s.step_id, title=s.title, by=s.actor, detail=detail))
        return out

    def _assigned(
        self, incident_id: str, person: Callable[[str | None], RecordPerson | None]
    ) -> dict[str, FollowUpItem]:
        """Owners and due dates from the follow_ups table, when there is one."""
        if not self.service.store.db["follow_ups"].exists():
            return {}
        out = {}
        for row in self.service.store.rows("follow_ups", "incident_id = ?", [incident_id]):
            out[row["step_id"]] = FollowUpItem(
                step_id=row["step_id"],
                title=row.get("title") or row["step_id"],
                owner=person(row.get("owner")),
                due_at=_parse_time(row.get("due_at")),
                state=row.get("state") or "open",
                done_by=person(row.get("done_by")),
                done_at=_parse_time(row.get("done_at")),
            )
        return out

    @staticmethod
    def _follow_ups(steps: list[RecordStep], known: Mapping[str, FollowUpItem], tasks: set[str]) -> list[FollowUpItem]:
        """The follow-up tasks (steps of kind ``follow_up``), with owner and due date where one was set."""
        out: list[FollowUpItem] = []
        for s in steps:
            if s.step_id not in tasks:
                continue
            item = known.get(s.step_id) or FollowUpItem(step_id=s.step_id, title=s.title)
            if s.state == "done" and item.done_at is None:
                item = item.model_copy(update={"state": "done", "done_by": s.actor, "done_at": s.at})
            out.append(item)
        return out
