"""The stakeholder notice: its draft from what the incident knows, and what sending it completes.

The draft follows the checklist's notice ("URGENT: Media Migration Rollback Initiated"): time,
environment, method (the chosen option), expected duration (time left to the target) and impact
(media rows the rollback loses, from the agent's rollback or dry-run result). The person edits it
before sending; what they send is what is posted and recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from bot.contacts import Contacts
from bot.domain import AUDIENCE_LABELS, AgentJob, Incident, JobState
from bot.incidents import IncidentService

NOTICE_TITLE = "URGENT: Media Migration Rollback Initiated"
UNKNOWN_IMPACT = "Recent media uploads may be lost (the rollback has not reported its impact yet)."
LOST_NAMES_SHOWN = 5


def impact_line(jobs: list[AgentJob]) -> str:
    """From the newest finished rollback (or, before one, dry run) result that lists lost rows."""
    for operation in ("rollback", "dry_run"):
        for job in reversed(jobs):
            if job.operation != operation or job.state != JobState.finished or not isinstance(job.result, dict):
                continue
            lost = job.result.get("lost_rows")
            if not isinstance(lost, list):
                continue
            source = "the rollback" if operation == "rollback" else "a dry run of the rollback"
            if not lost:
                return f"No media uploads are lost ({source} found every media row kept in images/docs)."
            names = [str(r.get("file_name", "?")) for r in lost if isinstance(r, dict)]
            shown = ", ".join(names[:LOST_NAMES_SHOWN]) + ("…" if len(names) > LOST_NAMES_SHOWN else "")
            return f"{len(lost)} media upload(s) made after the migration are lost ({source} reported: {shown})."
    return UNKNOWN_IMPACT


def _minutes(seconds: float) -> str:
    m = round(abs(seconds) / 60)
    return f"{m} minute{'s' if m != 1 else ''}"


def draft_notice(service: IncidentService, incident: Incident, now: datetime) -> str:
    method = "not chosen yet (option 1, the built-in rollback, is preferred)"
    if incident.chosen_option is not None:
        section = service.runbook.option(incident.chosen_option)
        method = section.title
    left = (incident.due_at - now).total_seconds()
    due = f"{incident.due_at.astimezone(UTC):%H:%M} UTC"
    duration = (
        f"about {_minutes(left)} (target: done by {due})"
        if left >= 0
        else f"past the {incident.target_minutes} min target by {_minutes(left)} (was due {due})"
    )
    lines = [
        NOTICE_TITLE,
        "",
        f"Time: {incident.opened_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        f"Environment: {incident.environment}",
        f"Method: {method}",
        f"Expected duration: {duration}",
        f"Impact: {impact_line(service.jobs(incident.id))}",
    ]
    if incident.summary:
        lines.append(f"Reason: {incident.summary}")
    lines += ["", f"Updates follow in the incident thread ({incident.id})."]
    return "\n".join(lines)


class NoticeDelivery(BaseModel):
    audience: str
    channel: str
    ts: str | None = None
    permalink: str | None = None
    error: str | None = None


def audiences(contacts: Contacts | None) -> dict[str, str]:
    """Configured audience -> channel, in the checklist's order."""
    if contacts is None:
        return {}
    order = list(AUDIENCE_LABELS)
    return dict(sorted(contacts.stakeholders.channels.items(), key=lambda item: order.index(item[0])))


def record_notice(
    service: IncidentService, incident_id: str, actor: str, text: str, deliveries: list[NoticeDelivery]
) -> list[str]:
    """Record the notice and complete the notify steps of the audiences it reached; returns their ids."""
    reached = {d.audience: d for d in deliveries if d.error is None}
    service.record(
        incident_id,
        "notice.sent",
        actor,
        text=text,
        deliveries=[d.model_dump(mode="json") for d in deliveries],
    )
    changed: list[str] = []
    for step in service.runbook.notice_steps():
        if step.audience is None or step.audience not in reached:
            continue
        note = f"notice sent to <#{reached[step.audience].channel}>"
        if service.transition(incident_id, step.id, "done", actor, note=note).changed:
            changed.append(step.id)
    return changed
