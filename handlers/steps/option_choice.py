"""Choosing a rollback option: the "Choose option N" control at the top of each option section
(declared by the section's ``option`` in the runbook) and in a fallback offer."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.incidents import Incident
from bot.runbook import RunbookSection
from handlers.actions_ids import ActionId, OptionRef
from handlers.clicks import OptionClick, on_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.steps.backup_choice import apply_backup_choice
from handlers.steps.base import Listener


def option_ref(incident_id: str, option: int) -> str:
    """The button value of "Choose option N"."""
    return OptionRef(incident_id=incident_id, option=option).encode()


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


def _choose(deps: HandlerDeps, click: OptionClick) -> None:
    option = click.ref.option
    backup = click.payload.selected_value(ActionId.BACKUP_SELECT)
    if backup is not None:  # the offer's menu, preselected or changed: choosing the option takes it
        apply_backup_choice(deps, click.incident.id, backup, click.user)
    if deps.service.choose_option(click.incident.id, option, click.user):
        snap = deps.publisher.redraw(click.incident.id, sections=deps.publisher.option_sections())
        deps.publisher.reply(snap.incident, f"<@{click.user}> chose option {option}.")
    else:
        tell_clicker(deps, click.payload, f"Option {option} was already chosen.")


LISTENERS = (
    Listener(
        ActionId.OPTION_CHOOSE,
        lambda deps: on_click(deps, _choose, name="choose_option", decode=OptionRef.decode),
    ),
)
