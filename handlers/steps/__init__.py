"""Runbook steps on Slack, one module per step kind (bot/runbook/steps.py): each declares the builder
that draws a step of its kind and the listeners its controls need, as data in :data:`STEP_VIEWS`.

    manual.py         Done / Skip only
    agent_op.py       Run / Retry (operators), confirm dialogs for destructive operations
    backup_choice.py  the backup menu; a choice completes the step
    follow_up.py      owner and due date (a dialog), Mark done; also after the incident is closed
    option_choice.py  "Choose option N" leading each option section (no checklist item), and in fallback offers
    page_contacts.py  "Alert the team": ticked by the bot; Acknowledge in page DMs and paging notes
    stakeholder_notice.py  "Send stakeholder notice" (the modal); audience steps ticked by the notice
    state.py          Done / Skip / Undo, shared by every kind
    base.py           the render input and the shared pieces

To add a step kind: its model in bot/runbook/steps.py, a module here with ``build`` and its
``VIEW``, one line in :data:`STEP_VIEWS`. ``register`` wires every listener listed here.
"""

from __future__ import annotations

from slack_bolt import App

from handlers.deps import HandlerDeps
from handlers.steps import (
    agent_op,
    backup_choice,
    follow_up,
    manual,
    option_choice,
    page_contacts,
    stakeholder_notice,
    state,
)
from handlers.steps.base import Listener, SectionContext, StepKindView, StepView

STEP_VIEWS: dict[str, StepKindView] = {
    "manual": manual.VIEW,
    "agent_op": agent_op.VIEW,
    "backup_choice": backup_choice.VIEW,
    "page_contacts": page_contacts.VIEW,
    "stakeholder_notice": stakeholder_notice.VIEW,
    "option_choice": option_choice.VIEW,
    "follow_up": follow_up.VIEW,
}
# Listeners that belong to no single kind.
SHARED_LISTENERS: tuple[Listener, ...] = state.LISTENERS


def listeners() -> list[Listener]:
    return [*SHARED_LISTENERS, *(listener for view in STEP_VIEWS.values() for listener in view.listeners)]


def register(app: App, deps: HandlerDeps) -> None:
    """Every step listener on the bolt app; an id answered twice is a bug, caught here."""
    seen: set[tuple[str, str]] = set()
    for listener in listeners():
        key = (listener.on, str(listener.action_id))
        if key in seen:
            raise RuntimeError(f"two listeners for {listener.on} {listener.action_id}")
        seen.add(key)
        getattr(app, listener.on)(str(listener.action_id))(listener.make(deps))


__all__ = ["STEP_VIEWS", "Listener", "SectionContext", "StepKindView", "StepView", "listeners", "register"]
