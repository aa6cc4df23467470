"""The three incident metrics, each measured from the opening and held against the severity's target.

- time to first acknowledgement: the earliest ``acked_at`` in the pages table;
- time to rollback complete: the first verify the agent reported ``ok`` (the data is back);
- time to resolved: when the incident was resolved (a cancelled one never resolves).

``met`` is True/False once the moment happened; for an open incident it is False as soon as the
target has passed without it, and None before that; for a closed incident where it never happened
it is None (not applicable), with a note saying why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.domain import AgentJob, Incident, IncidentState
from bot.record.model import RecordMetric, RecordPage

METRIC_LABELS = {
    "time_to_first_ack": "Time to first acknowledgement",
    "time_to_rollback_complete": "Time to rollback complete (first passing verify)",
    "time_to_resolved": "Time to resolved",
}


def _metric(
    name: str, incident: Incident, at: datetime | None, now: datetime, missing_note: str, note: str = ""
) -> RecordMetric:
    target = incident.target_minutes
    if at is not None:
        minutes = round((at - incident.opened_at).total_seconds() / 60, 2)
        return RecordMetric(
            name=name,  # type: ignore[arg-type]
            label=METRIC_LABELS[name],
            minutes=minutes,
            target_minutes=target,
            met=minutes <= target,
            at=at,
            note=note,
        )
    if incident.is_open:
        met = False if now > incident.due_at else None
        missing_note = missing_note or "not yet"
    else:
        met = None
    return RecordMetric(
        name=name,  # type: ignore[arg-type]
        label=METRIC_LABELS[name],
        minutes=None,
        target_minutes=target,
        met=met,
        note=missing_note,
    )


def first_passing_verify(jobs: Iterable[AgentJob]) -> AgentJob | None:
    done = [j for j in jobs if j.operation == "verify" and j.outcome == "ok" and j.finished_at is not None]
    return min(done, key=lambda j: j.finished_at or j.started_at, default=None)


def compute_metrics(
    incident: Incident, jobs: list[AgentJob], pages: list[RecordPage], now: datetime
) -> list[RecordMetric]:
    acks = [p.acked_at for p in pages if p.acked_at is not None]
    first_ack = min(acks, default=None)
    ack_note = "" if pages else "no pages"
    if pages and first_ack is None:
        ack_note = "nobody acknowledged"
    verify = first_passing_verify(jobs)
    resolved_at = incident.closed_at if incident.state == IncidentState.resolved else None
    resolve_note = "cancelled (false alarm)" if incident.state == IncidentState.cancelled else ""
    return [
        _metric("time_to_first_ack", incident, first_ack, now, ack_note),
        _metric(
            "time_to_rollback_complete",
            incident,
            verify.finished_at if verify else None,
            now,
            "no passing verify",
            note=f"verify of step {verify.step_id}" if verify else "",
        ),
        _metric("time_to_resolved", incident, resolved_at, now, resolve_note),
    ]
