"""Shows agent jobs in the incident thread: a "running" reply, throttled progress, the result.

The job's message is one entry of the thread plan (``job:<request id>``) rendered from the store:
running with the newest progress lines while the job runs, its result once it has finished. The
publisher posts and edits it off the caller's thread and coalesces edits; progress asks are also
throttled here to about one per second per job (Tier 3 budget and the human eye). Progress lines
live only in memory: after a restart the running message shows "waiting" until the next line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.domain import AgentJob
from bot.incidents import IncidentService, IncidentSnapshot
from bot.thread_plan import ThreadMessage, job_key
from handlers.actions_ids import StepRef
from handlers.message import SlackMessage
from handlers.publisher import ThreadPublisher
from handlers.results import job_result_message, job_running_message
from ops.models import BackupInfo

log = logging.getLogger(__name__)


class SlackJobPresenter:
    def __init__(
        self,
        publisher: ThreadPublisher,
        service: IncidentService,
        *,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publisher = publisher
        self.service = service
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._lines: dict[str, list[str]] = {}
        self._last_edit: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}
        publisher.register_renderer("job", self.render)

    def render(self, snap: IncidentSnapshot, row: ThreadMessage) -> SlackMessage:
        job, incident = snap.job(row.ref), snap.incident
        title = self.service.runbook.step(job.step_id).title
        if job.state != "finished":
            with self._lock:
                lines = list(self._lines.get(job.request_id, []))
            return job_running_message(
                operation=job.operation,
                environment=incident.environment,
                step_title=title,
                started_by=job.started_by,
                progress=lines,
            )
        duration = (job.finished_at - job.started_at).total_seconds() if job.finished_at else None
        return job_result_message(
            operation=job.operation,
            outcome=job.outcome or "error",
            result=job.result,
            error=job.error,
            environment=incident.environment,
            step_title=title,
            started_by=job.started_by,
            duration_s=duration,
            recover_ref=(StepRef(incident_id=incident.id, step_id=job.step_id).encode() if incident.is_open else None),
        )

    def job_started(self, job: AgentJob) -> None:
        self.publisher.show_job(job.incident_id, job.request_id, job.step_id)

    def job_progress(self, job: AgentJob, lines: list[str]) -> None:
        with self._lock:
            self._lines[job.request_id] = list(lines)
            if job.request_id in self._timers:
                return  # an edit is already scheduled; it will show these lines
            wait = self.min_interval_s - (self.clock() - self._last_edit.get(job.request_id, float("-inf")))
            if wait > 0:
                timer = threading.Timer(wait, self._flush, args=(job,))
                timer.daemon = True
                self._timers[job.request_id] = timer
                timer.start()
                return
            self._last_edit[job.request_id] = self.clock()
        self.publisher.refresh(job.incident_id, job_key(job.request_id))

    def _flush(self, job: AgentJob) -> None:
        with self._lock:
            if self._timers.pop(job.request_id, None) is None:
                return  # finished meanwhile
            self._last_edit[job.request_id] = self.clock()
        self.publisher.refresh(job.incident_id, job_key(job.request_id))

    def job_finished(self, job: AgentJob) -> None:
        with self._lock:
            timer = self._timers.pop(job.request_id, None)
            self._lines.pop(job.request_id, None)
            self._last_edit.pop(job.request_id, None)
        if timer is not None:
            timer.cancel()
        self.publisher.show_job(job.incident_id, job.request_id, job.step_id)

    def offer_fallback(self, incident_id: str, option: int, after: AgentJob, backups: list[BackupInfo]) -> None:
        reason = str((after.error or {}).get("message") or (after.result or {}).get("summary") or after.outcome)
        listing = [b.model_dump(mode="json") for b in backups]
        body = {"option": option, "operation": after.operation, "reason": reason, "backups": listing}
        self.publisher.offer(incident_id, after.request_id, body)
        self.publisher.redraw(incident_id, sections=self.publisher.option_sections())
