"""The page-contacts step ("Alert the team"): the bot pages the contacts file's roles when the
incident opens and completes the step itself. Its control is **Acknowledge**, in each page DM and
in the thread's paging notes; the first click for a role wins, a later one is told who won."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from bot.incidents import UnknownIncident
from handlers.actions_ids import ActionId, RoleRef
from handlers.deps import HandlerDeps
from handlers.paging_blocks import ack_reply
from handlers.payloads import BlockActions
from handlers.steps.base import Listener, StepKindView, StepView, step_blocks

log = logging.getLogger(__name__)


def build(view: StepView) -> list[Block]:
    if view.state.state != "pending":
        return step_blocks(view)
    hint = ContextBlock(
        elements=[
            MarkdownTextObject(
                text=f"{view.indent}_The bot pages the roles of the contacts file and ticks this when the pages "
                "go out; without a contacts file, alert the team by hand._"
            )
        ]
    )
    return step_blocks(view, notes=[hint])


def _acknowledge(deps: HandlerDeps) -> Callable[..., None]:
    def page_ack(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        via = "dm" if (payload.channel_id or "").startswith("D") else "thread"
        try:
            ref = RoleRef.decode(payload.action.value or "")
            incident = deps.service.get(ref.incident_id)
        except (ValueError, UnknownIncident) as exc:
            _tell(deps, payload, f":warning: This button no longer applies ({exc}).")
            return
        outcome = deps.paging.acknowledge(incident.id, ref.role, payload.user.id, via)
        contacts = deps.paging.contacts
        role_name = contacts.role_name(ref.role) if contacts and ref.role in contacts.roles else ref.role
        if not outcome.changed:
            _tell(
                deps, payload, f":information_source: {role_name} for {incident.id}: {outcome.reason}; nothing changed."
            )
            return
        assert outcome.ack is not None
        deps.publisher.reply(incident, ack_reply(incident, role_name, outcome.ack))

    return page_ack


def _tell(deps: HandlerDeps, payload: BlockActions, text: str) -> None:
    try:
        deps.publisher.ephemeral(payload.channel_id or "", payload.user.id, text, thread_ts=payload.container.thread_ts)
    except Exception as exc:  # an ephemeral in a DM may be refused; the log keeps the answer
        log.info("could not answer %s ephemerally: %s", payload.user.id, exc)


VIEW = StepKindView(build=build, listeners=(Listener(ActionId.PAGE_ACK, _acknowledge),))
