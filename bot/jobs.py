"""Running host-agent operations for checklist steps, off the Slack listener threads.

The runner owns the lifecycle: claim the step (one job per step, whoever clicks twice), call the
agent with a request id the agent de-duplicates, settle the step from the *result* (never from
the fact that the call returned), and decide the checklist's fallback (option 1 -> 2 -> 3).
Presentation is delegated to a ``JobObserver`` so this module knows nothing of Slack.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from bot.agents import CALLER, AgentDirectory
from bot.domain import AgentJob, AgentOutcome, StepStatus
from bot.incidents import IncidentService, MissingChoice, backups_of_result
from ops.client import AgentAuthError, AgentError, AgentProtocolError, AgentTimeout, AgentUnreachable
from ops.contract import OPERATIONS
from ops.models import BackupInfo

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "rollback-bot"
# Option 1 fails at these operations -> offer option 2; option 2 fails at restore -> offer option 3.
FALLBACK_TRIGGERS: dict[int, frozenset[str]] = {1: frozenset({"rollback", "verify"}), 2: frozenset({"restore"})}
# Only an operation that ran and failed moves the team to the next option. A refusal (app running,
# hot journal, busy), an unreachable agent or a rejected signature says "fix the cause and Retry":
# jumping to a backup restore would throw away more data than option 1 loses.
FALLBACK_OUTCOMES = frozenset({AgentOutcome.failed, AgentOutcome.error})
POLL_WINDOW_S = 300.0
# Outcomes our own shutdown can cause by cutting the call: the next process re-attaches instead.
CUT_BY_SHUTDOWN = frozenset({AgentOutcome.unreachable, AgentOutcome.timeout, AgentOutcome.protocol, AgentOutcome.error})


class JobObserver(Protocol):
    def job_started(self, job: AgentJob) -> None: ...

    def job_progress(self, job: AgentJob, lines: list[str]) -> None: ...

    def job_finished(self, job: AgentJob) -> None: ...

    def offer_fallback(self, incident_id: str, option: int, after: AgentJob, backups: list[BackupInfo]) -> None: ...


class StartRefusal(StrEnum):
    """Why Run did not start a job; the Slack edge turns each into a sentence for the clicker."""

    no_agent_op = "no_agent_op"  # the step is not something the agent does
    no_agent = "no_agent"  # no host agent is configured for the incident's environment
    backup_not_chosen = "backup_not_chosen"  # a restore needs a chosen backup first
    backup_changed = "backup_changed"  # the choice changed since the dialog the person confirmed
    already_running = "already_running"
    not_runnable = "not_runnable"  # done or skipped: undo it first
    no_stop_needed = "no_stop_needed"  # "it is stopped" asserted for an operation that does not ask


class StartOutcome(BaseModel):
    """Either a job that now runs, or the reason it doesn't, with the facts the reason is about."""

    job: AgentJob | None = None
    refusal: StartRefusal | None = None
    operation: str | None = None
    environment: str | None = None
    step_title: str | None = None
    chosen_backup: str | None = None
    confirmed_backup: str | None = None
    running_by: str | None = None
    step_state: StepStatus | None = None


class JobRunner:
    def __init__(
        self,
        service: IncidentService,
        agents: AgentDirectory,
        observer: JobObserver,
        *,
        workers: int = 4,
        deadline_s: float = 6 * 3600.0,
        poll_window_s: float = POLL_WINDOW_S,
    ) -> None:
        self.service = service
        self.agents = agents
        self.observer = observer
        self.deadline_s = deadline_s
        self.poll_window_s = poll_window_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-job")
        self._closing = threading.Event()

    # -- starting ---------------------------------------------------------------------------------
    def start(
        self,
        incident_id: str,
        step_id: str,
        actor: str,
        *,
        confirmed_backup: str | None = None,
        app_stopped_by: str | None = None,
        operation: str | None = None,
    ) -> StartOutcome:
        """Start a step's operation. ``confirmed_backup`` is the backup named in the dialog the
        person confirmed; a restore runs only if it is still the incident's chosen backup.
        ``app_stopped_by``: that person asserted go-fast-cdn is stopped where the agent cannot prove
        it; passed to the agent (its audit log) and recorded in the incident's timeline.
        ``operation``: run this side operation (recover_journal) under the step instead of its own."""
        step = self.service.runbook.agent_step(step_id)
        if step is not None and operation is not None:
            step = step.model_copy(update={"agent_op": operation, "agent_args_from": None})
        if step is None:
            return StartOutcome(refusal=StartRefusal.no_agent_op, step_title=self.service.runbook.step(step_id).title)
        incident = self.service.get(incident_id)
        facts = StartOutcome(
            operation=step.agent_op,
            environment=incident.environment,
            step_title=step.title,
            chosen_backup=incident.chosen_backup,
            confirmed_backup=confirmed_backup,
        )
        if self.agents.client_for(incident.environment) is None:
            return facts.model_copy(update={"refusal": StartRefusal.no_agent})
        try:
            args = {} if operation is not None else self.service.agent_args(incident_id, step_id)
        except MissingChoice:
            return facts.model_copy(update={"refusal": StartRefusal.backup_not_chosen})
        if step.uses_chosen_backup and confirmed_backup != incident.chosen_backup:
            return facts.model_copy(update={"refusal": StartRefusal.backup_changed})
        if app_stopped_by is not None:
            if "app_stopped_by" not in OPERATIONS[step.agent_op].args.model_fields:
                return facts.model_copy(update={"refusal": StartRefusal.no_stop_needed})
            args["app_stopped_by"] = app_stopped_by
        if step.agent_op in ("restore", "replace_db"):
            sha = self.backup_sha256(incident_id, args["backup"] if "backup" in args else args["source"])
            if sha:  # pin the exact bytes the person saw listed; the agent refuses anything else
                args["expected_sha256"] = sha
        request_id = f"{incident_id}.{step_id}.{uuid.uuid4().hex[:12]}"
        job = self.service.begin_job(
            incident_id, step_id, step.agent_op, args, actor, request_id, reopen_done=operation is not None
        )
        if job is not None and app_stopped_by is not None:
            self.service.record(
                incident_id,
                "app_stopped.asserted",
                app_stopped_by,
                step_id,
                request_id=request_id,
                operation=step.agent_op,
            )
        if job is None:
            current = self.service.step_state(incident_id, step_id)
            if current.state == StepStatus.running:
                return facts.model_copy(update={"refusal": StartRefusal.already_running, "running_by": current.actor})
            return facts.model_copy(update={"refusal": StartRefusal.not_runnable, "step_state": current.state})
        try:
            self.observer.job_started(job)
        except Exception:  # Slack hiccup: the job still runs and its result is still shown
            log.exception("could not show the start of %s", job.request_id)
        self.submit(job.request_id)
        return facts.model_copy(update={"job": job})

    def submit(self, request_id: str) -> Future[AgentJob | None]:
        return self._pool.submit(self._run_safely, request_id)

    def recover(self) -> int:
        """After a restart, re-attach to jobs the store still has as running (same request id)."""
        jobs = self.service.running_jobs()
        for job in jobs:
            log.info("re-attaching to %s (%s)", job.request_id, job.operation)
            self.submit(job.request_id)
        return len(jobs)

    def close(self) -> None:
        """Stop without settling running jobs: the next process re-attaches to them (``recover``)."""
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.agents.close()

    # -- running ----------------------------------------------------------------------------------
    def _run_safely(self, request_id: str) -> AgentJob | None:
        try:
            return self._run(request_id)
        except Exception as exc:  # never leave a step "running" because of a bug here
            if self._closing.is_set():
                log.info("bot stopping: %s stays running for the next process to re-attach", request_id)
                return None
            log.exception("agent job %s crashed in the bot", request_id)
            job = self.service.finish_job(
                request_id, AgentOutcome.error, None, _error("error", "bot_error", f"bot error: {exc}")
            )
            self.observer.job_finished(job)
            return job

    def _run(self, request_id: str) -> AgentJob:
        job = self.service.job(request_id)
        environment = self.service.get(job.incident_id).environment
        client = self.agents.client_for(environment)
        error: dict[str, Any] | None
        if client is None:
            error = {"kind": "unreachable", "code": "no_agent", "message": f"no agent configured for {environment}"}
            outcome, result = AgentOutcome.unreachable, None
        else:
            progress: list[str] = []

            def on_progress(line: str) -> None:
                progress.append(line)
                self.observer.job_progress(job, list(progress))

            outcome, result, error = self._call(client, job, on_progress)
        if self._closing.is_set() and outcome in CUT_BY_SHUTDOWN and result is None:
            raise RuntimeError("closing")  # the call was cut by our own shutdown, not by the agent
        finished = self.service.finish_job(request_id, outcome, result, error)
        if finished.outcome == "inconclusive":
            self.backups(finished.incident_id)  # so the step's baseline menu has the host's backups to offer
        self.observer.job_finished(finished)
        self._maybe_offer_fallback(finished)
        return finished

    def _call(
        self, client: Any, job: AgentJob, on_progress: Any
    ) -> tuple[AgentOutcome, dict[str, Any] | None, dict[str, Any] | None]:
        try:
            view = self._watch(client, job, on_progress)
        except AgentAuthError as exc:
            return AgentOutcome.unauthorized, None, _error("unauthorized", "bad_signature", str(exc))
        except AgentUnreachable as exc:
            return AgentOutcome.unreachable, None, _error("unreachable", "unreachable", str(exc))
        except AgentTimeout as exc:
            return AgentOutcome.timeout, None, _error("timeout", "timeout", str(exc))
        except AgentProtocolError as exc:
            return AgentOutcome.protocol, None, _error("protocol", f"http_{exc.status}", str(exc))
        except AgentError as exc:
            return AgentOutcome.error, None, _error("error", "agent_error", str(exc))
        error = view.error.model_dump(mode="json") if view.error else None
        return AgentOutcome(view.outcome or AgentOutcome.error), view.result, error

    def _watch(self, client: Any, job: AgentJob, on_progress: Any) -> Any:
        """Submit (idempotent by request id) and poll in windows until the job finishes.

        A slow job is never settled as failed while it may still succeed: after each window the
        same request id is polled again, up to ``deadline_s`` in all.
        """
        waited = 0.0
        drill = self._drill_of(job.incident_id)
        while True:
            window = max(1.0, min(self.poll_window_s, self.deadline_s - waited))
            try:
                return client.run(
                    job.operation,
                    job.args,
                    job.request_id,
                    on_progress=on_progress,
                    deadline_s=window,
                    caller=f"{CALLER}/{job.started_by}",  # who clicked, in the agent's audit log
                    drill=drill,
                )
            except AgentTimeout:
                waited += window
                if self._closing.is_set() or waited >= self.deadline_s:
                    raise
                took = f"{waited:.0f} s" if waited < 120 else f"{waited / 60:.0f} min"
                on_progress(f"still running after {took}; still watching")

    def _drill_of(self, incident_id: str) -> str | None:
        """A drill's jobs run on the agent's scratch copy named after the drill; real ones on the host."""
        return incident_id if self.service.get(incident_id).drill else None

    # -- fallbacks --------------------------------------------------------------------------------
    def _maybe_offer_fallback(self, job: AgentJob) -> None:
        if job.outcome not in FALLBACK_OUTCOMES:
            return
        section = self.service.runbook.section_of(job.step_id)
        if section.option is None or job.operation not in FALLBACK_TRIGGERS.get(section.option, frozenset()):
            return
        next_option = section.option + 1
        self.service.record(
            job.incident_id, "fallback.offered", SYSTEM_ACTOR, job.step_id, option=next_option, after=job.request_id
        )
        self.observer.offer_fallback(job.incident_id, next_option, job, self.backups(job.incident_id))

    def backups(self, incident_id: str) -> list[BackupInfo]:
        """The newest backup list for the incident's host, fetched now (read-only) if none is known."""
        known = self.service.latest_backups(incident_id)
        if known is not None:
            return known
        incident = self.service.get(incident_id)
        client = self.agents.client_for(incident.environment)
        if client is None:
            return []
        request_id = f"{incident_id}.backups.{uuid.uuid4().hex[:12]}"
        try:
            view = client.run("backups_list", {}, request_id, deadline_s=60, drill=self._drill_of(incident_id))
        except AgentError as exc:
            self.service.record(incident_id, "agent.backups_unavailable", SYSTEM_ACTOR, error=str(exc))
            return []
        self.service.record(
            incident_id,
            "agent.backups_listed",
            SYSTEM_ACTOR,
            request_id=request_id,
            outcome=view.outcome,
            result=view.result,
        )
        return backups_of_result(view.result)

    def backup_sha256(self, incident_id: str, name: str) -> str | None:
        """The SHA-256 the newest listing showed for ``name``: what a restore of it is pinned to."""
        for backup in self.service.latest_backups(incident_id) or []:
            if backup.name == name and backup.sha256:
                return backup.sha256
        return None


def _error(kind: str, code: str, message: str) -> dict[str, Any]:
    """The ``error`` of a job the bot settles itself, shaped like the agent's ``JobError``."""
    return {"kind": kind, "code": code, "message": message}
