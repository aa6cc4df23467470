"""What the Resolve dialog starts with: the bot's own account of cause and fix, for people to edit.

Only facts the bot saw (the opener's summary, failed operations, the backup restored, the first
passing verify, the restart); the people closing the incident correct and complete it.
"""

from __future__ import annotations

from bot.domain import AgentJob
from bot.incidents import IncidentService
from bot.record.metrics import first_passing_verify
from bot.record.model import ClosingNotes

FIELD_MAX = 3000  # a plain_text_input's max_length


def _failure(job: AgentJob) -> str:
    result = job.result or {}
    detail = ", ".join(result.get("failed_checks") or []) or result.get("summary") or (job.error or {}).get("message")
    return f"`{job.operation}` {job.outcome}" + (f" ({detail})" if detail else "")


def suggest_notes(service: IncidentService, incident_id: str) -> ClosingNotes:
    incident = service.get(incident_id)
    jobs = service.jobs(incident_id)
    failures = [j for j in jobs if j.outcome not in (None, "ok", "noop")]
    cause = [f"Reported: {incident.summary}." if incident.summary else ""]
    if failures:
        cause.append("Failed on the way: " + "; ".join(_failure(j) for j in failures) + ".")
    fix: list[str] = []
    if incident.chosen_option:
        fix.append(f"Followed {service.runbook.option(incident.chosen_option).title}.")
    for j in jobs:
        result = j.result or {}
        if j.outcome != "ok":
            continue
        if j.operation == "rollback":
            lost = len(result.get("lost_rows") or [])
            fix.append(f"Rolled back the media migration ({lost} row(s) lost).")
        elif j.operation == "restore":
            fix.append(f"Restored {result.get('backup')} (SHA-256 {str(result.get('backup_sha256') or '')[:12]}…).")
        elif j.operation == "start_app":
            fix.append("Restarted the app.")
    verify = first_passing_verify(jobs)
    if verify is not None and verify.finished_at is not None:
        fix.append(f"Verify passed at {verify.finished_at:%H:%M} UTC.")
    lessons = (
        "Option 1 failed and option 2 was needed: find out why before re-migrating."
        if any(
            j.operation in ("rollback", "verify") and service.runbook.section_of(j.step_id).option == 1
            for j in failures
        )
        else ""
    )
    return ClosingNotes(
        root_cause=" ".join(c for c in cause if c)[:FIELD_MAX],
        resolution_summary=" ".join(fix)[:FIELD_MAX],
        lessons_learned=lessons[:FIELD_MAX],
    )
