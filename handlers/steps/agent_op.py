"""Steps the host agent does: Run (pending) or Retry (failed), behind a confirm dialog when the
operation is destructive. Only operators may press them; the job runner does the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject

from bot.incidents import UNPROVABLE_NOTE
from bot.jobs import StartOutcome, StartRefusal
from bot.runbook import AgentOpStep, Runbook
from handlers.actions_ids import ActionId, StepRef
from handlers.clicks import StepClick, on_click, require_operator, tell_clicker
from handlers.deps import HandlerDeps
from handlers.elements import assert_stopped_confirm, confirm_dialog
from handlers.results import backup_select
from handlers.steps.base import Listener, StepKindView, StepView, is_inconclusive, step_blocks
from handlers.text import code, esc


def build(view: StepView) -> list[Block]:
    step = view.step
    assert isinstance(step, AgentOpStep)
    if view.ctx.agent_url is None:  # no agent for this environment: a manual step in effect
        return step_blocks(view)
    ref = view.ref
    if step.uses_chosen_backup and view.incident.chosen_backup:
        # Pin what the confirm dialog names: a Run click is refused if the choice changed since.
        ref = StepRef(incident_id=view.incident.id, step_id=step.id, arg=view.incident.chosen_backup).encode()
    leading: list[Any] = []
    notes: list[Block] = []
    if is_inconclusive(view.state) and step.agent_op == "verify":
        # no baseline anywhere: a person picks the backup to compare with; never a fallback
        select = backup_select(
            backups=view.ctx.backups or [], chosen=view.incident.chosen_backup, action_id=ActionId.BACKUP_SELECT
        )
        hint = (
            "No baseline to compare the counts with: pick the pre-migration backup to compare with, then "
            "Retry (an inconclusive verify offers no fallback)."
            if select is not None
            else "No baseline to compare with: run *List available backups* (Option 2) to pick one, then Retry."
        )
        notes.append(ContextBlock(elements=[MarkdownTextObject(text=f"{view.indent}_{hint}_")]))
        if select is not None:
            leading.append(select)
    if view.state.state == "failed" and (view.state.note or "").startswith(UNPROVABLE_NOTE):
        leading.append(_assert_stopped_button(view, step, ref))
    return step_blocks(view, leading=leading, notes=notes, run=_run_button(view, step, ref), ref=ref)


def _assert_stopped_button(view: StepView, step: AgentOpStep, ref: str) -> ButtonElement:
    """Where the agent cannot prove go-fast-cdn is stopped (no controller, no /proc), a person may
    say so; their name goes with the job into the agent's audit log and the thread."""
    return ButtonElement(
        text="Retry: I confirm it is stopped",
        action_id=ActionId.STEP_RETRY_ASSERT_STOPPED,
        value=ref,
        style="danger",
        confirm=assert_stopped_confirm(view.incident.environment, step.agent_op),
    )


def _run_button(view: StepView, step: AgentOpStep, ref: str) -> ButtonElement | None:
    """Run (pending) or Retry (failed); destructive operations ask first, naming the environment."""
    state, incident = view.state.state, view.incident
    if state not in ("pending", "failed"):
        return None
    label = "Run" if state == "pending" else "Retry"
    action = ActionId.STEP_RUN if state == "pending" else ActionId.STEP_RETRY
    confirm = None
    if step.confirm:
        what = step.confirm
        if step.uses_chosen_backup:
            sha = next((b.sha256[:12] for b in view.ctx.backups or [] if b.name == incident.chosen_backup), "")
            what += (
                f" Backup: {esc(incident.chosen_backup)}" + (f" (sha256 {sha}…)." if sha else ".")
                if incident.chosen_backup
                else " No backup is chosen yet: the bot will refuse until one is."
            )
        confirm = confirm_dialog(
            f"{label} {step.agent_op} on {incident.environment}?",
            f"{what} Environment: {incident.environment}.",
            confirm=f"{label} {step.agent_op}",
        )
    return ButtonElement(
        text=label, action_id=action, value=ref, style="danger" if step.confirm else "primary", confirm=confirm
    )


def refusal_text(outcome: StartOutcome, runbook: Runbook) -> str:
    """Why Run did not start, as the clicker reads it (also kept in the timeline)."""
    match outcome.refusal:
        case StartRefusal.no_agent_op:
            return f"step {outcome.step_title!r} has no agent operation"
        case StartRefusal.no_agent:
            return f"no host agent is configured for `{outcome.environment}` (ROLLBACK_AGENTS)"
        case StartRefusal.backup_not_chosen:
            return f"choose a backup first (the backup menu in {_backup_menu_place(runbook)})"
        case StartRefusal.backup_changed:
            return (
                f"the chosen backup is now {code(outcome.chosen_backup)}, not {code(outcome.confirmed_backup)} as the "
                "button you pressed said; the message was redrawn, press Run again to confirm"
            )
        case StartRefusal.already_running:
            return f"`{outcome.operation}` is already running (started by <@{outcome.running_by}>)"
        case StartRefusal.not_runnable:
            state = outcome.step_state.value if outcome.step_state else "not pending"
            return f"the step is {state}; undo it first to run it again"
        case StartRefusal.no_stop_needed:
            return f"`{outcome.operation}` does not need go-fast-cdn to be proven stopped; press Retry"
    return "not started"


def _backup_menu_place(runbook: Runbook) -> str:
    """Where the backup menu is: "Option 2" for the default runbook."""
    for step in runbook.backup_choice_steps():
        section = runbook.section_of(step.id)
        return f"Option {section.option}" if section.option is not None else section.title
    return "the thread"


def _run(
    verb: str, *, assert_stopped: bool = False, side_operation: str | None = None
) -> Callable[[HandlerDeps, StepClick], None]:
    """``side_operation``: run that operation under the clicked step (recover_journal offered by a
    result that reports a hot journal) instead of the step's own."""

    def handle(deps: HandlerDeps, click: StepClick) -> None:
        step = deps.runbook.agent_step(click.ref.step_id)
        operation = side_operation or (step.agent_op if step is not None else None)
        if not require_operator(deps, click, f"{verb} `{operation}`"):
            return
        outcome = deps.runner.start(
            click.incident.id,
            click.ref.step_id,
            click.user,
            confirmed_backup=click.ref.arg,
            app_stopped_by=click.user if assert_stopped else None,
            operation=side_operation,
        )
        if outcome.refusal is not None:
            reason = refusal_text(outcome, deps.runbook)
            deps.service.record(click.incident.id, "agent.not_started", click.user, click.ref.step_id, reason=reason)
            tell_clicker(deps, click.payload, f":information_source: Not started: {reason}.")

    return handle


VIEW = StepKindView(
    build=build,
    listeners=(
        Listener(ActionId.STEP_RUN, lambda deps: on_click(deps, _run("run"), name="step_run")),
        Listener(ActionId.STEP_RETRY, lambda deps: on_click(deps, _run("retry"), name="step_retry")),
        Listener(
            ActionId.STEP_RETRY_ASSERT_STOPPED,
            lambda deps: on_click(deps, _run("retry", assert_stopped=True), name="step_retry_assert_stopped"),
        ),
        Listener(
            ActionId.JOURNAL_RECOVER,
            lambda deps: on_click(deps, _run("run", side_operation="recover_journal"), name="journal_recover"),
        ),
        Listener(
            ActionId.JOURNAL_RECOVER_ASSERT_STOPPED,
            lambda deps: on_click(
                deps,
                _run("retry", assert_stopped=True, side_operation="recover_journal"),
                name="journal_recover_assert_stopped",
            ),
        ),
    ),
)
