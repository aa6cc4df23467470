"""Shows agent jobs in the incident thread: a "running" reply, throttled progress, the result.

Progress edits are coalesced to about one ``chat.update`` per second per job (Tier 3 budget and
the human eye); the final result always replaces the running message, however fast it came.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.domain import AgentJob
from bot.incidents import IncidentService, IncidentSnapshot
from handlers.blocks import fallback_offer
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
        self._last_edit: dict[str, float] = {}
        self._pending: dict[str, list[str]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._finished: set[str] = set()

    def _step_title(self, job: AgentJob) -> str:
        return self.service.runbook.step(job.step_id).title

    def _running(self, job: AgentJob, environment: str, lines: list[str]) -> SlackMessage:
        return job_running_message(
            operation=job.operation,
            environment=environment,
            step_title=self._step_title(job),
            started_by=job.started_by,
            progress=lines,
        )

    def _step_sections(self, job: AgentJob) -> list[str]:
        return [self.service.runbook.section_of(job.step_id).id]

    def job_started(self, job: AgentJob) -> None:
        def post_running(snap: IncidentSnapshot) -> None:
            ts = self.publisher.post_in_thread(snap.incident, self._running(job, snap.incident.environment, []))
            if ts:
                self.service.set_job_display_ref(job.request_id, ts)

        self.publisher.redraw(job.incident_id, sections=self._step_sections(job), parent=True, first=post_running)

    def job_progress(self, job: AgentJob, lines: list[str]) -> None:
        with self._lock:
            if job.request_id in self._finished:
                return
            now = self.clock()
            wait = self.min_interval_s - (now - self._last_edit.get(job.request_id, float("-inf")))
            if wait > 0:
                self._pending[job.request_id] = lines
                if job.request_id not in self._timers:
                    timer = threading.Timer(wait, self._flush, args=(job,))
                    timer.daemon = True
                    self._timers[job.request_id] = timer
                    timer.start()
                return
            self._last_edit[job.request_id] = now
        self._show_progress(job, lines)

    def _flush(self, job: AgentJob) -> None:
        with self._lock:
            self._timers.pop(job.request_id, None)
            lines = self._pending.pop(job.request_id, None)
            if lines is None or job.request_id in self._finished:
                return
            self._last_edit[job.request_id] = self.clock()
        self._show_progress(job, lines)

    def _show_progress(self, job: AgentJob, lines: list[str]) -> None:
        current = self.service.job(job.request_id)
        if current.display_ref is None or current.state == "finished":
            return
        incident = self.service.get(job.incident_id)
        msg = self.publisher.marked(incident, self._running(job, incident.environment, lines))
        self._update(incident.channel, current.display_ref, msg.text, msg.blocks)

    def job_finished(self, job: AgentJob) -> None:
        with self._lock:
            self._finished.add(job.request_id)
            timer = self._timers.pop(job.request_id, None)
            self._pending.pop(job.request_id, None)
        if timer is not None:
            timer.cancel()

        def show_result(snap: IncidentSnapshot) -> None:
            finished, incident = snap.job(job.request_id), snap.incident
            took = (finished.finished_at - finished.started_at).total_seconds() if finished.finished_at else None
            msg = job_result_message(
                operation=finished.operation,
                outcome=finished.outcome or "error",
                result=finished.result,
                error=finished.error,
                environment=incident.environment,
                step_title=self._step_title(finished),
                started_by=finished.started_by,
                duration_s=took,
            )
            msg = self.publisher.marked(incident, msg)
            if finished.display_ref:
                self._update(incident.channel, finished.display_ref, msg.text, msg.blocks)
            else:
                self.publisher.post_in_thread(incident, msg)

        self.publisher.redraw(job.incident_id, sections=self._step_sections(job), parent=True, first=show_result)

    def offer_fallback(self, incident_id: str, option: int, after: AgentJob, backups: list[BackupInfo]) -> None:
        reason = str((after.error or {}).get("message") or (after.result or {}).get("summary") or after.outcome)
        section = self.service.runbook.option(option)

        def post_offer(snap: IncidentSnapshot) -> None:
            msg = fallback_offer(snap.incident, section, after.operation, reason, backups)
            self.publisher.post_in_thread(snap.incident, msg)

        self.publisher.redraw(incident_id, sections=self.publisher.option_sections(), first=post_offer)

    def _update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            self.publisher.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:  # the result is in the store; the next refresh shows it
            log.error("could not update job message %s: %s", ts, exc)
