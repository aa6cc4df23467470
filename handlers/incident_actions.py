"""Resolve / Cancel on the parent message: close the incident and freeze its thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import UnknownIncident
from handlers.actions_ids import ActionId
from handlers.clicks import click_from_incident, tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions


def register(app: App, deps: HandlerDeps) -> None:
    app.action(ActionId.INCIDENT_RESOLVE.value)(_close_listener(deps, "resolve"))
    app.action(ActionId.INCIDENT_CANCEL.value)(_close_listener(deps, "cancel"))


def _close_listener(deps: HandlerDeps, verb: str) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        user = payload.user.id
        try:
            incident = deps.service.get(payload.action.value or "")
        except UnknownIncident as exc:
            tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
            return
        if not click_from_incident(deps, payload, incident.id):
            return
        # The opener may close their own incident (e.g. opened by mistake); otherwise operators only.
        if user != incident.opened_by and not deps.operators.allowed(user)[0]:
            deps.service.record(incident.id, "permission.refused", user, attempted=verb, reason="not an operator")
            tell_clicker(deps, payload, f":no_entry: Only operators or the opener can {verb} {incident.id}.")
            return
        running = [j for j in deps.service.jobs(incident.id) if j.state == "running"]
        if running:
            tell_clicker(
                deps, payload, f":hourglass: `{running[0].operation}` is still running; {verb} when it has finished."
            )
            return
        minutes = (deps.service.clock() - incident.opened_at).total_seconds() / 60
        if verb == "resolve":
            met = "met" if minutes <= incident.target_minutes else "missed"
            text = f"resolved after {minutes:.0f} min (target {incident.target_minutes} min {met})"
            changed = deps.service.resolve(incident.id, user, text)
        else:
            text = f"cancelled after {minutes:.0f} min"
            changed = deps.service.cancel(incident.id, user, text)
        if not changed:
            tell_clicker(deps, payload, f"{incident.id} is already {deps.service.get(incident.id).state}.")
            return
        deps.publisher.refresh_all(incident.id)
        deps.publisher.reply(deps.service.get(incident.id), f"<@{user}> {text}. {incident.id} is closed.")

    listener.__name__ = f"incident_{verb}"
    return listener
