"""Run / Retry on agent steps, and the backup menu: permission check, then hand off to the runner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from handlers.actions_ids import ActionId
from handlers.clicks import resolve_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions

log = logging.getLogger(__name__)


def register(app: App, deps: HandlerDeps) -> None:
    app.action(ActionId.STEP_RUN.value)(_run_listener(deps, "run"))
    app.action(ActionId.STEP_RETRY.value)(_run_listener(deps, "retry"))
    app.action(ActionId.BACKUP_SELECT.value)(_backup_listener(deps))


def _check_operator(deps: HandlerDeps, payload: BlockActions, incident_id: str, what: str, step_id: str | None) -> bool:
    allowed, why = deps.operators.allowed(payload.user.id)
    if not allowed:
        deps.service.record(incident_id, "permission.refused", payload.user.id, step_id, attempted=what, reason=why)
        tell_clicker(
            deps,
            payload,
            f":no_entry: Only operators can {what} ({why}). Ask an operator, or mark the step Done by hand.",
        )
    return allowed


def _run_listener(deps: HandlerDeps, verb: str) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        ref = resolve_click(deps, payload)
        if ref is None:
            return
        step = deps.runbook.step(ref.step_id)
        if not _check_operator(deps, payload, ref.incident_id, f"{verb} `{step.agent_op}`", ref.step_id):
            return
        outcome = deps.runner.start(ref.incident_id, ref.step_id, payload.user.id, confirmed_backup=ref.arg)
        if outcome.refusal:
            deps.service.record(
                ref.incident_id, "agent.not_started", payload.user.id, ref.step_id, reason=outcome.refusal
            )
            tell_clicker(deps, payload, f":information_source: Not started: {outcome.refusal}.")

    listener.__name__ = f"step_{verb}"
    return listener


def _backup_listener(deps: HandlerDeps) -> Callable[..., None]:
    def choose_backup(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        option = payload.action.selected_option
        incident = deps.service.by_thread(payload.channel_id or "", payload.container.thread_ts or "")
        if option is None or incident is None:
            return
        # Choosing is not running: anyone may pick; Run on the restore step is what needs an operator.
        if resolve_click(deps, payload, f"{incident.id}|backup") is None:
            return
        record_backup_choice(deps, incident.id, option.value, payload.user.id)

    return choose_backup


def record_backup_choice(deps: HandlerDeps, incident_id: str, backup: str, actor: str) -> None:
    """Record the chosen backup, complete the "identify" step, and re-render the option sections."""
    if not deps.service.choose_backup(incident_id, backup, actor):
        return
    for _, step, _ in deps.runbook.iter_steps():
        if step.choice == "backup":
            deps.service.transition(incident_id, step.id, "done", actor, note=f"chose {backup}")
    deps.publisher.refresh_options(incident_id)
    deps.publisher.refresh_parent(incident_id)
