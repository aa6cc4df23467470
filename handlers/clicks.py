"""The preamble every click on an incident's controls shares, in one place.

``on_click`` builds a bolt listener that acks first, parses the payload, decodes the button's value
(a ``StepRef`` or an ``OptionRef``), looks the incident up and checks that it is still open; only
then does it call the handler with a :class:`Click`. A control that no longer applies gets an
ephemeral saying why, and the handler never runs. ``require_operator`` is the operator check for
handlers that run agent operations (the rule itself is ``IncidentService.authorize_run``).

A wrapper rather than bolt listener middleware: bolt runs a listener's middleware before the ack
leaves, and the refusal path here makes a Web API call (the ephemeral); the ack must not wait for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt import Ack

from bot.incidents import Incident, UnknownIncident
from handlers.actions_ids import OptionRef, StepRef
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions

log = logging.getLogger(__name__)


Ref = TypeVar("Ref", StepRef, OptionRef)


@dataclass(frozen=True)
class Click(Generic[Ref]):
    """A click on an open incident's control: who, on what (``ref``), and the incident as it was read."""

    payload: BlockActions
    ref: Ref
    incident: Incident

    @property
    def user(self) -> str:
        return self.payload.user.id


StepClick = Click[StepRef]
OptionClick = Click[OptionRef]
# Where a listener finds the button value when it is not the action's own value (e.g. a select).
ValueOf = Callable[[HandlerDeps, BlockActions], str | None]


def on_click(
    deps: HandlerDeps,
    handle: Callable[[HandlerDeps, Click[Ref]], None],
    *,
    name: str,
    decode: Callable[[str], Ref] = StepRef.decode,  # type: ignore[assignment]
    value_of: ValueOf | None = None,
) -> Callable[..., None]:
    """A bolt listener: ack, resolve the click, then ``handle`` it (or tell the clicker why not)."""

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        if value_of is not None:
            value = value_of(deps, payload)
            if value is None:
                return
        else:
            value = payload.action.value or ""
        click = resolve_click(deps, payload, value, decode)
        if click is not None:
            handle(deps, click)

    listener.__name__ = name
    return listener


def resolve_click(
    deps: HandlerDeps, payload: BlockActions, value: str, decode: Callable[[str], Ref]
) -> Click[Ref] | None:
    """The clicked control's target if its incident is open; otherwise an ephemeral says why."""
    try:
        ref = decode(value)
        incident = deps.service.get(ref.incident_id)
    except (ValueError, UnknownIncident) as exc:
        log.warning("click on a control that no longer applies: %s", exc)
        tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
        return None
    if incident.state != "open":
        tell_clicker(deps, payload, f":lock: {incident.id} is {incident.state}; nothing changed.")
        return None
    return Click(payload=payload, ref=ref, incident=incident)


def require_operator(deps: HandlerDeps, click: StepClick, attempted: str) -> bool:
    """True if the clicker may run agent operations; otherwise they are told why (and it is recorded)."""
    auth = deps.service.authorize_run(click.incident.id, click.user, attempted, click.ref.step_id)
    if not auth.allowed:
        tell_clicker(
            deps,
            click.payload,
            f":no_entry: Only operators can {attempted} ({auth.reason}). "
            "Ask an operator, or mark the step Done by hand.",
        )
    return auth.allowed


def tell_clicker(deps: HandlerDeps, payload: BlockActions, text: str) -> None:
    """An ephemeral answer to whoever clicked, in the thread they clicked in."""
    deps.publisher.ephemeral(payload.channel_id or "", payload.user.id, text, thread_ts=payload.container.thread_ts)
