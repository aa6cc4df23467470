"""Acknowledge, from a page DM or from the thread: record it once, say it in the thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import UnknownIncident
from handlers.actions_ids import ActionId, RoleRef
from handlers.deps import HandlerDeps
from handlers.paging_blocks import ack_reply
from handlers.payloads import BlockActions

log = logging.getLogger(__name__)


def register(app: App, deps: HandlerDeps) -> None:
    @app.action(ActionId.PAGE_ACK.value)
    def page_ack(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        user = payload.user.id
        channel = payload.channel_id or ""
        via = "dm" if channel.startswith("D") else "thread"
        try:
            ref = RoleRef.decode(payload.action.value or "")
            incident = deps.service.get(ref.incident_id)
        except (ValueError, UnknownIncident) as exc:
            _tell(deps, payload, f":warning: This button no longer applies ({exc}).")
            return
        outcome = deps.paging.acknowledge(incident.id, ref.role, user, via)
        contacts = deps.paging.contacts
        role_name = contacts.role_name(ref.role) if contacts and ref.role in contacts.roles else ref.role
        if not outcome.changed:
            _tell(
                deps, payload, f":information_source: {role_name} for {incident.id}: {outcome.reason}; nothing changed."
            )
            return
        assert outcome.ack is not None
        deps.publisher.reply(incident, ack_reply(incident, role_name, outcome.ack))


def _tell(deps: HandlerDeps, payload: BlockActions, text: str) -> None:
    try:
        deps.publisher.ephemeral(payload.channel_id or "", payload.user.id, text, thread_ts=payload.container.thread_ts)
    except Exception as exc:  # an ephemeral in a DM may be refused; the log keeps the answer
        log.info("could not answer %s ephemerally: %s", payload.user.id, exc)
