"""Turning a clicked control back into an open incident's step, or telling the clicker why not."""

from __future__ import annotations

import logging

from bot.incidents import UnknownIncident
from handlers.actions_ids import StepRef
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions

log = logging.getLogger(__name__)


def resolve_click(deps: HandlerDeps, payload: BlockActions, value: str | None = None) -> StepRef | None:
    """The clicked control's target if its incident is open; otherwise an ephemeral says why."""
    try:
        raw = value if value is not None else (payload.action.value or "")
        ref = StepRef.decode(raw)
        incident = deps.service.get(ref.incident_id)
    except (ValueError, UnknownIncident) as exc:
        log.warning("click on a control that no longer applies: %s", exc)
        tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
        return None
    if incident.state != "open":
        tell_clicker(deps, payload, f":lock: {incident.id} is {incident.state}; nothing changed.")
        return None
    return ref


def tell_clicker(deps: HandlerDeps, payload: BlockActions, text: str) -> None:
    """An ephemeral answer to whoever clicked, in the thread they clicked in."""
    deps.publisher.ephemeral(payload.channel_id or "", payload.user.id, text, thread_ts=payload.container.thread_ts)
