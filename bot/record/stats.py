"""Metrics per incident and across incidents, for ``rollback-bot incidents`` and ``rollback-bot stats``.

Read live from the store (not from stored records), so open incidents are listed too and a
metric always reflects the data, whether or not a record was written.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from bot.domain import Incident
from bot.incidents import IncidentService
from bot.record.builder import page_from_row, read_pages
from bot.record.metrics import METRIC_LABELS, compute_metrics
from bot.record.model import RecordMetric
from ops.models import utcnow


class IncidentMetrics(BaseModel):
    incident: Incident
    metrics: list[RecordMetric]

    def metric(self, name: str) -> RecordMetric:
        return next(m for m in self.metrics if m.name == name)


class MetricStats(BaseModel):
    name: str
    label: str
    measured: int
    median_minutes: float | None
    worst_minutes: float | None
    worst_incident: str | None
    met: int


def incident_metrics(service: IncidentService, clock: Callable[[], datetime] = utcnow) -> list[IncidentMetrics]:
    out = []
    now = clock()
    for incident in service.incidents():
        pages = [page_from_row(r, lambda u: None) for r in read_pages(service, incident.id)]
        metrics = compute_metrics(incident, service.jobs(incident.id), pages, now)
        out.append(IncidentMetrics(incident=incident, metrics=metrics))
    return out


def metric_stats(rows: list[IncidentMetrics]) -> list[MetricStats]:
    """Median and worst of each metric over the incidents where it happened; how many met their target.
    Drills are rehearsals, not outages: they never count."""
    rows = [r for r in rows if not r.incident.drill]
    out = []
    for name, label in METRIC_LABELS.items():
        measured = [(r.metric(name).minutes, r.incident.id, r.metric(name).met) for r in rows]
        values = [(m, i, met) for m, i, met in measured if m is not None]
        worst = max(values, key=lambda v: v[0], default=None)
        out.append(
            MetricStats(
                name=name,
                label=label,
                measured=len(values),
                median_minutes=round(statistics.median(v[0] for v in values), 2) if values else None,
                worst_minutes=worst[0] if worst else None,
                worst_incident=worst[1] if worst else None,
                met=sum(1 for v in values if v[2]),
            )
        )
    return out
