"""Resolve / Cancel / Reopen on the parent message: close the incident, freeze its thread, write its record.

Resolve opens a dialog (root cause, resolution, lessons; prefilled from what the bot saw); its
submission closes the incident and hands the record to the RecordPublisher. Cancel (a false alarm)
closes at once and still gets a short record. Reopen brings a closed incident back; resolving it
again stores a new record version next to the old ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.domain import Incident
from bot.incidents import IncidentAlreadyOpen, UnknownIncident
from bot.record.model import ClosingNotes
from bot.record.prefill import suggest_notes
from handlers.actions_ids import ActionId
from handlers.clicks import tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions
from handlers.record_views import RESOLVE_CALLBACK, closing_notes, resolve_modal


def register(app: App, deps: HandlerDeps) -> None:
    app.action(ActionId.INCIDENT_RESOLVE.value)(_resolve_clicked(deps))
    app.action(ActionId.INCIDENT_CANCEL.value)(_cancel_clicked(deps))
    app.action(ActionId.INCIDENT_REOPEN.value)(_reopen_clicked(deps))
    app.view(RESOLVE_CALLBACK)(_resolve_submitted(deps))


def close_refusal(deps: HandlerDeps, incident: Incident, user: str, verb: str) -> str | None:
    """Why ``user`` may not close (or reopen) the incident now, or None."""
    # The opener may close their own incident (e.g. opened by mistake); otherwise operators only.
    if user != incident.opened_by and not deps.operators.allowed(user)[0]:
        deps.service.record(incident.id, "permission.refused", user, attempted=verb, reason="not an operator")
        return f":no_entry: Only operators or the opener can {verb} {incident.id}."
    running = [j for j in deps.service.jobs(incident.id) if j.state == "running"]
    if running:
        return f":hourglass: `{running[0].operation}` is still running; {verb} when it has finished."
    return None


def _incident_of(deps: HandlerDeps, payload: BlockActions) -> Incident | None:
    try:
        return deps.service.get(payload.action.value or "")
    except UnknownIncident as exc:
        tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
        return None


def _resolve_clicked(deps: HandlerDeps) -> Callable[..., None]:
    def incident_resolve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        incident = _incident_of(deps, payload)
        if incident is None:
            return
        if not incident.is_open:
            tell_clicker(deps, payload, f"{incident.id} is already {incident.state.value}.")
            return
        refusal = close_refusal(deps, incident, payload.user.id, "resolve")
        if refusal:
            tell_clicker(deps, payload, refusal)
            return
        view = resolve_modal(incident.id, incident.environment, suggest_notes(deps.service, incident.id))
        try:
            deps.publisher.client.views_open(trigger_id=payload.trigger_id or "", view=view)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else exc
            tell_clicker(deps, payload, f":warning: The Resolve dialog did not open ({error}); press Resolve again.")

    return incident_resolve


def _resolve_submitted(deps: HandlerDeps) -> Callable[..., None]:
    def incident_resolve_modal(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        try:
            incident = deps.service.get(str(view.get("private_metadata") or ""))
        except UnknownIncident as exc:
            ack(response_action="errors", errors={"root_cause": str(exc)})
            return
        refusal = close_refusal(deps, incident, user, "resolve") if incident.is_open else None
        if not incident.is_open:
            refusal = f"{incident.id} is already {incident.state.value}."
        if refusal:
            ack(response_action="errors", errors={"root_cause": refusal.split(" ", 1)[1]})
            return
        ack()
        close_incident(deps, incident, user, "resolve", closing_notes(view))

    return incident_resolve_modal


def _cancel_clicked(deps: HandlerDeps) -> Callable[..., None]:
    def incident_cancel(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        incident = _incident_of(deps, payload)
        if incident is None:
            return
        if not incident.is_open:
            tell_clicker(deps, payload, f"{incident.id} is already {incident.state.value}.")
            return
        refusal = close_refusal(deps, incident, payload.user.id, "cancel")
        if refusal:
            tell_clicker(deps, payload, refusal)
            return
        close_incident(deps, incident, payload.user.id, "cancel", None)

    return incident_cancel


def close_incident(
    deps: HandlerDeps, incident: Incident, user: str, verb: Literal["resolve", "cancel"], notes: ClosingNotes | None
) -> bool:
    """Close, freeze the thread, and write the record (a short one for a cancel)."""
    minutes = (deps.service.clock() - incident.opened_at).total_seconds() / 60
    if verb == "resolve":
        met = "met" if minutes <= incident.target_minutes else "missed"
        text = f"resolved after {minutes:.0f} min (target {incident.target_minutes} min {met})"
        changed = deps.service.resolve(incident.id, user, text)
    else:
        text = f"cancelled after {minutes:.0f} min"
        changed = deps.service.cancel(incident.id, user, text)
        notes = ClosingNotes(resolution_summary=f"Cancelled as a false alarm after {minutes:.0f} min; nothing changed.")
    if not changed:
        deps.publisher.ephemeral(
            incident.channel, user, f"{incident.id} is already {deps.service.get(incident.id).state.value}."
        )
        return False
    deps.paging.stop(incident.id)
    deps.reminders.stop(incident.id)
    kind: Literal["full", "short"] = "full" if verb == "resolve" else "short"
    notes = notes or ClosingNotes()
    # What people wrote is in the store before anything else can fail: a record can always be rebuilt.
    deps.service.record(incident.id, "record.requested", user, record_kind=kind, notes=notes.model_dump())
    deps.publisher.refresh_parent(incident.id)
    deps.notes.refresh_now(incident.id)  # the final state, not after the throttle
    for section in deps.runbook.sections:
        deps.publisher.refresh_section(incident.id, section.id)
    deps.publisher.reply(
        deps.service.get(incident.id), f"<@{user}> {text}. {incident.id} is closed; writing the incident record."
    )
    deps.records.publish(incident.id, by=user, kind=kind, notes=notes)
    return True


def _reopen_clicked(deps: HandlerDeps) -> Callable[..., None]:
    def incident_reopen(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        incident = _incident_of(deps, payload)
        if incident is None:
            return
        user = payload.user.id
        if user != incident.opened_by and not deps.operators.allowed(user)[0]:
            deps.service.record(incident.id, "permission.refused", user, attempted="reopen", reason="not an operator")
            tell_clicker(deps, payload, f":no_entry: Only operators or the opener can reopen {incident.id}.")
            return
        try:
            changed = deps.service.reopen(incident.id, user)
        except IncidentAlreadyOpen as exc:
            tell_clicker(
                deps,
                payload,
                f":warning: {incident.environment} has {exc.incident.id} open now; close it before reopening "
                f"{incident.id}.",
            )
            return
        if not changed:
            tell_clicker(deps, payload, f"{incident.id} is already open.")
            return
        deps.publisher.refresh_parent(incident.id)
        deps.notes.refresh_now(incident.id)
        for section in deps.runbook.sections:
            deps.publisher.refresh_section(incident.id, section.id)
        next_version = deps.records.keeper.archive.next_version(incident.id)
        deps.publisher.reply(
            deps.service.get(incident.id),
            f"<@{user}> reopened {incident.id}. Resolving it again stores record version {next_version}; "
            "the earlier versions are kept.",
        )

    return incident_reopen
