"""Choosing a rollback option: the "Choose option N" control at the top of each option section
(declared by the section's ``option`` in the runbook) and in a fallback offer."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.incidents import Incident
from bot.runbook import RunbookSection
from handlers.actions_ids import ActionId, StepRef
from handlers.clicks import StepClick, on_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.steps.backup_choice import apply_backup_choice
from handlers.steps.base import Listener

OPTION_PREFIX = "option:"


def option_ref(incident_id: str, option: int) -> str:
    """The button value of "Choose option N"."""
    return StepRef(incident_id=incident_id, step_id=f"{OPTION_PREFIX}{option}").encode()


def option_of(ref: StepRef) -> int | None:
    """The option number a "Choose option N" value carries, or None for any other value."""
    raw = ref.step_id.removeprefix(OPTION_PREFIX)
    return int(raw) if ref.step_id.startswith(OPTION_PREFIX) and raw.isdigit() else None


def build(incident: Incident, section: RunbookSection) -> list[Block]:
    """The chosen marker, or the option's label with its "Choose option N" button."""
    assert section.option is not None
    if incident.chosen_option == section.option:
        return [
            ContextBlock(
                elements=[MarkdownTextObject(text=f":point_right: Option {section.option} is the chosen path.")]
            )
        ]
    label = f"Choose option {section.option}"
    note = "" if incident.chosen_option is None else f" (currently option {incident.chosen_option})"
    return [
        SectionBlock(
            block_id=f"option|{section.option}",
            text=MarkdownTextObject(text=f"Option {section.option}: {section.option_label or 'this path'}{note}."),
            accessory=ButtonElement(
                text=label, action_id=ActionId.OPTION_CHOOSE, value=option_ref(incident.id, section.option)
            ),
        )
    ]


def _choose(deps: HandlerDeps, click: StepClick) -> None:
    option = option_of(click.ref)
    if option is None:
        tell_clicker(deps, click.payload, f":warning: This control no longer applies ({click.ref.step_id!r}).")
        return
    backup = click.payload.selected_value(ActionId.BACKUP_SELECT)
    if backup is not None:  # the offer's menu, preselected or changed: choosing the option takes it
        apply_backup_choice(deps, click.incident.id, backup, click.user)
    if deps.service.choose_option(click.incident.id, option, click.user):
        incident = deps.service.get(click.incident.id)
        for section in deps.runbook.sections:
            if section.option is not None:
                deps.publisher.refresh_section(click.incident.id, section.id)
        deps.publisher.reply(incident, f"<@{click.user}> chose option {option}.")
    else:
        tell_clicker(deps, click.payload, f"Option {option} was already chosen.")


LISTENERS = (Listener(ActionId.OPTION_CHOOSE, lambda deps: on_click(deps, _choose, name="choose_option")),)
