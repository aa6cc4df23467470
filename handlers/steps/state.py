"""Done / Skip / Undo: the buttons every step has, one conditional transition each."""

from __future__ import annotations

from collections.abc import Callable

from handlers.actions_ids import ActionId
from handlers.clicks import StepClick, on_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.steps.base import Listener


def _transition(action: str) -> Callable[[HandlerDeps, StepClick], None]:
    def handle(deps: HandlerDeps, click: StepClick) -> None:
        try:
            result = deps.service.transition(click.incident.id, click.ref.step_id, action, click.user)
        except KeyError as exc:
            tell_clicker(deps, click.payload, f":warning: Unknown step {exc}.")
            return
        if result.changed:
            deps.publisher.refresh_step(click.incident.id, click.ref.step_id)
        else:
            tell_clicker(deps, click.payload, f"Nothing changed: {result.reason}.")

    return handle


def _listener(action: str) -> Listener:
    action_id = {"done": ActionId.STEP_DONE, "skip": ActionId.STEP_SKIP, "undo": ActionId.STEP_UNDO}[action]
    return Listener(action_id, lambda deps: on_click(deps, _transition(action), name=f"step_{action}"))


LISTENERS = (_listener("done"), _listener("skip"), _listener("undo"))
