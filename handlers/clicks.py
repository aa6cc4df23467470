"""Turning a clicked control back into an open incident's step, or telling the clicker why not."""

from __future__ import annotations

import logging

from bot.incidents import UnknownIncident
from handlers.actions_ids import StepRef
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions
from handlers.text import code

log = logging.getLogger(__name__)


def resolve_click(deps: HandlerDeps, payload: BlockActions, value: str | None = None) -> StepRef | None:
    """The clicked control's target if its incident is open and is the one of the message clicked;
    otherwise an ephemeral says why."""
    try:
        raw = value if value is not None else (payload.action.value or "")
        ref = StepRef.decode(raw)
        incident = deps.service.get(ref.incident_id)
    except (ValueError, UnknownIncident) as exc:
        log.warning("click on a control that no longer applies: %s", exc)
        tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
        return None
    if not click_from_incident(deps, payload, incident.id):
        return None
    if incident.state != "open":
        tell_clicker(deps, payload, f":lock: {incident.id} is {incident.state}; nothing changed.")
        return None
    return ref


def click_from_incident(deps: HandlerDeps, payload: BlockActions, incident_id: str) -> bool:
    """A click's value must name the incident whose message (channel and thread) it came from.

    Slack sends the value back as the message had it, so a mismatch means a crafted or replayed
    payload (or a message copied elsewhere): refused, and recorded on every incident involved.
    """
    channel = payload.channel_id or ""
    root = payload.container.thread_ts or payload.container.message_ts or ""
    origin = deps.service.by_thread(channel, root) if channel and root else None
    if origin is not None and origin.id == incident_id:
        return True
    details = {
        "reason": "click value names another incident than the message it came from",
        "value": payload.action.value,
        "action_id": payload.action.action_id,
        "channel": channel,
        "message_ts": payload.container.message_ts,
        "thread_ts": payload.container.thread_ts,
        "origin_incident": origin.id if origin else None,
        "claimed_incident": incident_id,
    }
    log.warning("refused a click for %s from %s/%s (incident %s)", incident_id, channel, root, details["origin_incident"])
    for target in {incident_id, *([origin.id] if origin else [])}:
        try:
            deps.service.record(target, "click.refused", payload.user.id, **details)
        except UnknownIncident:
            pass
    where = f"belongs to {origin.id}" if origin else "is not in an incident thread"
    tell_clicker(
        deps,
        payload,
        f":no_entry: Refused: this button names {code(incident_id, 64)} but the message it was clicked in {where}. "
        "Nothing changed; use the buttons in the incident's own thread.",
    )
    return False


def tell_clicker(deps: HandlerDeps, payload: BlockActions, text: str) -> None:
    """An ephemeral answer to whoever clicked, in the thread they clicked in."""
    deps.publisher.ephemeral(payload.channel_id or "", payload.user.id, text, thread_ts=payload.container.thread_ts)
