"""Done / Skip / Undo and "choose option N" clicks: one conditional transition each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from handlers.actions_ids import ActionId
from handlers.agent_actions import record_backup_choice
from handlers.clicks import resolve_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions

log = logging.getLogger(__name__)

_TRANSITION = {ActionId.STEP_DONE: "done", ActionId.STEP_SKIP: "skip", ActionId.STEP_UNDO: "undo"}


def register(app: App, deps: HandlerDeps) -> None:
    for action_id, transition in _TRANSITION.items():
        app.action(action_id.value)(_step_listener(deps, transition))
    app.action(ActionId.OPTION_CHOOSE.value)(_option_listener(deps))


def _step_listener(deps: HandlerDeps, transition: str) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        ref = resolve_click(deps, payload)
        if ref is None:
            return
        try:
            result = deps.service.transition(ref.incident_id, ref.step_id, transition, payload.user.id)
        except KeyError as exc:
            tell_clicker(deps, payload, f":warning: Unknown step {exc}.")
            return
        if result.changed:
            deps.publisher.refresh_step(ref.incident_id, ref.step_id)
        else:
            tell_clicker(deps, payload, f"Nothing changed: {result.reason}.")

    listener.__name__ = f"step_{transition}"
    return listener


def _option_listener(deps: HandlerDeps) -> Callable[..., None]:
    def choose_option(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        ref = resolve_click(deps, payload)
        if ref is None:
            return
        option = int(ref.step_id.removeprefix("option:"))
        backup = payload.selected_value(ActionId.BACKUP_SELECT)
        if backup is not None:  # the offer's menu, preselected or changed: choosing the option takes it
            record_backup_choice(deps, ref.incident_id, backup, payload.user.id)
        if deps.service.choose_option(ref.incident_id, option, payload.user.id):
            incident = deps.service.get(ref.incident_id)
            deps.publisher.refresh_options(ref.incident_id)
            deps.publisher.reply(incident, f"<@{payload.user.id}> chose option {option}.")
        else:
            tell_clicker(deps, payload, f"Option {option} was already chosen.")

    return choose_option
