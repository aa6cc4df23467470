"""The backup-choice step: a menu of the host's valid backups (the newest pre-migration one
preselected). Picking one records the choice, which completes the step (the rule is in
``IncidentService.choose_backup_for_restore``), and redraws the option sections."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from handlers.actions_ids import ActionId
from handlers.clicks import StepClick, on_click
from handlers.deps import HandlerDeps
from handlers.payloads import BlockActions
from handlers.results import backup_select
from handlers.steps.base import Listener, StepKindView, StepView, step_blocks


def build(view: StepView) -> list[Block]:
    if view.state.state != "pending":
        return step_blocks(view)
    select = backup_select(
        backups=view.ctx.backups or [], chosen=view.incident.chosen_backup, action_id=ActionId.BACKUP_SELECT
    )
    if select is not None:
        return step_blocks(view, leading=[select])
    hint = ContextBlock(
        elements=[MarkdownTextObject(text=f"{view.indent}_Run *List available backups* to choose one._")]
    )
    return step_blocks(view, notes=[hint])


def apply_backup_choice(deps: HandlerDeps, incident_id: str, backup: str, actor: str) -> None:
    """Record the chosen backup and redraw what it changes (the option sections and the progress)."""
    if not deps.service.choose_backup_for_restore(incident_id, backup, actor).changed:
        return
    deps.publisher.redraw(incident_id, sections=deps.publisher.option_sections(), parent=True)


def _selected_in_thread(deps: HandlerDeps, payload: BlockActions) -> str | None:
    """The menu carries no step value: the thread says which incident it belongs to."""
    incident = deps.service.by_thread(payload.channel_id or "", payload.container.thread_ts or "")
    if payload.action.selected_option is None or incident is None:
        return None
    return f"{incident.id}|backup"


def _choose(deps: HandlerDeps, click: StepClick) -> None:
    # Choosing is not running: anyone may pick; Run on the restore step is what needs an operator.
    option = click.payload.action.selected_option
    if option is not None:
        apply_backup_choice(deps, click.incident.id, option.value, click.user)


VIEW = StepKindView(
    build=build,
    listeners=(
        Listener(
            ActionId.BACKUP_SELECT,
            lambda deps: on_click(deps, _choose, name="choose_backup", value_of=_selected_in_thread),
        ),
    ),
)
