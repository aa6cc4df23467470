"""Resolve / Cancel on the parent message: close the incident and freeze its thread.

Who may close, and when, is the domain's rule (``IncidentService.close``); this turns its outcome
into what the clicker and the thread read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import CloseRefusal, IncidentState, UnknownIncident
from handlers.actions_ids import ActionId
from handlers.clicks import click_from_incident, tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions


def register(app: App, deps: HandlerDeps) -> None:
    app.action(ActionId.INCIDENT_RESOLVE.value)(_close_listener(deps, "resolve", IncidentState.resolved))
    app.action(ActionId.INCIDENT_CANCEL.value)(_close_listener(deps, "cancel", IncidentState.cancelled))


def _close_listener(deps: HandlerDeps, verb: str, state: IncidentState) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        user = payload.user.id
        if not click_from_incident(deps, payload, payload.action.value or ""):
            return
        try:
            outcome = deps.service.close(payload.action.value or "", user, state)
        except UnknownIncident as exc:
            tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
            return
        incident = outcome.incident
        if outcome.refusal == CloseRefusal.not_allowed:
            tell_clicker(deps, payload, f":no_entry: Only operators or the opener can {verb} {incident.id}.")
            return
        if outcome.refusal == CloseRefusal.job_running:
            tell_clicker(
                deps,
                payload,
                f":hourglass: `{outcome.running_operation}` is still running; {verb} when it has finished.",
            )
            return
        if not outcome.closed:
            tell_clicker(deps, payload, f"{incident.id} is already {incident.state}.")
            return
        deps.paging.stop(incident.id)
        deps.reminders.stop(incident.id)
        deps.publisher.redraw(incident.id, sections=[s.id for s in deps.runbook.sections], parent=True)
        deps.publisher.reply(incident, f"<@{user}> {outcome.resolution}. {incident.id} is closed.")

    listener.__name__ = f"incident_{verb}"
    return listener
