"""Choosing a rollback option: the ``option_choice`` step that leads each option section ("Choose
option N"), and the same button in a fallback offer. The step is no checklist item: its state is the
incident's chosen option, so the builder draws from that and shows no Done / Skip / Undo."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.runbook import OptionChoiceStep
from handlers.actions_ids import ActionId, OptionRef
from handlers.clicks import OptionClick, on_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.steps.backup_choice import apply_backup_choice
from handlers.steps.base import Listener, StepKindView, StepView


def option_ref(incident_id: str, option: int) -> str:
    """The button value of "Choose option N"."""
    return OptionRef(incident_id=incident_id, option=option).encode()


def build(view: StepView) -> list[Block]:
    """The chosen marker, or the option's label with its "Choose option N" button."""
    step, incident = view.step, view.incident
    assert isinstance(step, OptionChoiceStep)
    if incident.chosen_option == step.option:
        return [
            ContextBlock(elements=[MarkdownTextObject(text=f":point_right: Option {step.option} is the chosen path.")])
        ]
    note = "" if incident.chosen_option is None else f" (currently option {incident.chosen_option})"
    return [
        SectionBlock(
            block_id=f"option|{step.option}",
            text=MarkdownTextObject(text=f"Option {step.option}: {step.title}{note}."),
            accessory=ButtonElement(
                text=f"Choose option {step.option}",
                action_id=ActionId.OPTION_CHOOSE,
                value=option_ref(incident.id, step.option),
            ),
        )
    ]


def _choose(deps: HandlerDeps, click: OptionClick) -> None:
    option = click.ref.option
    backup = click.payload.selected_value(ActionId.BACKUP_SELECT)
    if backup is not None:  # the offer's menu, preselected or changed: choosing the option takes it
        apply_backup_choice(deps, click.incident.id, backup, click.user)
    if deps.service.choose_option(click.incident.id, option, click.user):
        deps.publisher.redraw(click.incident.id, sections=deps.publisher.option_sections())
        deps.publisher.reply(click.incident, f"<@{click.user}> chose option {option}.")
    else:
        tell_clicker(deps, click.payload, f"Option {option} was already chosen.")


VIEW = StepKindView(
    build,
    listeners=(
        Listener(
            ActionId.OPTION_CHOOSE,
            lambda deps: on_click(deps, _choose, name="choose_option", decode=OptionRef.decode),
        ),
    ),
)
