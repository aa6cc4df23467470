"""Resolve / Cancel / Reopen on the parent message: close the incident, freeze its thread, write its record.

Resolve opens a dialog (root cause, resolution, lessons; prefilled from what the bot saw); its
submission closes the incident and hands the record to the RecordPublisher. Cancel (a false alarm)
closes at once and still gets a short record. Reopen brings a closed incident back; resolving it
again stores a new record version next to the old ones. Who may close or reopen, and when, is the
domain's rule (``IncidentService.close_refusal`` / ``close``); this turns its outcome into words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.domain import Incident
from bot.incidents import CloseOutcome, CloseRefusal, IncidentAlreadyOpen, IncidentState, UnknownIncident
from bot.record.model import ClosingNotes
from bot.record.prefill import suggest_notes
from handlers.actions_ids import ActionId
from handlers.clicks import click_from_incident, tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions
from handlers.record_views import RESOLVE_CALLBACK, closing_notes, resolve_modal


def register(app: App, deps: HandlerDeps) -> None:
    app.action(ActionId.INCIDENT_RESOLVE.value)(_resolve_clicked(deps))
    app.action(ActionId.INCIDENT_CANCEL.value)(_cancel_clicked(deps))
    app.action(ActionId.INCIDENT_REOPEN.value)(_reopen_clicked(deps))
    app.view(RESOLVE_CALLBACK)(_resolve_submitted(deps))


def refusal_text(outcome: CloseOutcome, verb: str) -> str:
    incident = outcome.incident
    if outcome.refusal == CloseRefusal.not_allowed:
        return f":no_entry: Only operators or the opener can {verb} {incident.id}."
    if outcome.refusal == CloseRefusal.job_running:
        return f":hourglass: `{outcome.running_operation}` is still running; {verb} when it has finished."
    return f"{incident.id} is already {incident.state.value}."


def _incident_of(deps: HandlerDeps, payload: BlockActions) -> Incident | None:
    """The incident a parent-message click names, if the click came from that incident's message."""
    if not click_from_incident(deps, payload, payload.action.value or ""):
        return None
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
        refused = deps.service.close_refusal(incident.id, payload.user.id, "resolve")
        if refused is not None:
            tell_clicker(deps, payload, refusal_text(refused, "resolve"))
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
        refused = deps.service.close_refusal(incident.id, user, "resolve")
        if refused is not None:  # e.g. a job started while the dialog was open: keep the dialog, say why
            ack(response_action="errors", errors={"root_cause": refusal_text(refused, "resolve").split(" ", 1)[1]})
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
        if not close_incident(deps, incident, payload.user.id, "cancel", None):
            return

    return incident_cancel


def close_incident(
    deps: HandlerDeps, incident: Incident, user: str, verb: Literal["resolve", "cancel"], notes: ClosingNotes | None
) -> bool:
    """Close (the domain checks who and when), freeze the thread, write the record (short for a cancel)."""
    state = IncidentState.resolved if verb == "resolve" else IncidentState.cancelled
    outcome = deps.service.close(incident.id, user, state)
    if not outcome.closed:
        deps.publisher.ephemeral(incident.channel, user, refusal_text(outcome, verb), thread_ts=incident.thread_ts)
        return False
    if verb == "cancel":
        notes = ClosingNotes(resolution_summary=f"Cancelled as a false alarm ({outcome.resolution}); nothing changed.")
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
        outcome.incident, f"<@{user}> {outcome.resolution}. {incident.id} is closed; writing the incident record."
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
        refused = deps.service.close_refusal(incident.id, user, "reopen")
        if refused is not None:
            tell_clicker(deps, payload, refusal_text(refused, "reopen"))
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
