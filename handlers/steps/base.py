"""What every step kind's builder and listeners share: the render input, the state line, and the
Done / Skip / Undo buttons every step has (their listeners are in ``state.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownTextObject, SectionBlock

from bot.follow_ups import FollowUp
from bot.incidents import AGENT_ACTOR, INCONCLUSIVE_NOTE, Incident, StepState
from bot.runbook import RunbookStep
from handlers.actions_ids import ActionId, StepRef
from handlers.deps import HandlerDeps
from handlers.limits import clip
from handlers.text import esc, esc_keep_mentions, fmt_time, mention
from ops.models import BackupInfo

STATE_ICON = {
    "pending": ":white_square:",
    "running": ":hourglass_flowing_sand:",
    "done": ":white_check_mark:",
    "skipped": ":fast_forward:",
    "failed": ":x:",
}
STATE_VERB = {"done": "Done", "skipped": "Skipped", "failed": "Failed", "running": "Running"}


DEPLOYMENT_PLACEHOLDER = "/path/to/go-fast-cdn"  # in by-hand commands when the folder is not configured


class SectionContext(BaseModel):
    """What a section render needs besides the incident and its steps: is an agent there, which
    backups it has, the go-fast-cdn folder on that host (for the by-hand commands), and the
    follow-up tasks' owners and due dates (shown in ``time_zone``)."""

    agent_url: str | None = None
    backups: list[BackupInfo] | None = None
    deployment: str | None = None
    follow_ups: dict[str, FollowUp] = Field(default_factory=dict)
    time_zone: str = "UTC"


@dataclass(frozen=True)
class StepView:
    """One step as a builder draws it."""

    incident: Incident
    step: RunbookStep
    state: StepState
    depth: int
    ctx: SectionContext

    @property
    def indent(self) -> str:
        return "\u2003" * self.depth

    @property
    def ref(self) -> str:
        """The button value that brings a click back to this step."""
        return StepRef(incident_id=self.incident.id, step_id=self.step.id).encode()


StepBuilder = Callable[[StepView], list[Block]]
ListenerFactory = Callable[[HandlerDeps], Callable[..., None]]


@dataclass(frozen=True)
class Listener:
    """One bolt listener: what it answers (``on`` ``"action"``: a block action id; ``"view"``: a
    modal's callback id; ``"shortcut"``: a shortcut's callback id), and how to build it from the deps."""

    action_id: str
    make: ListenerFactory
    on: Literal["action", "view", "shortcut"] = "action"


@dataclass(frozen=True)
class StepKindView:
    """A step kind on Slack: the builder that draws a step of that kind, and the listeners its own
    controls need (Done / Skip / Undo are shared by all kinds and registered once)."""

    build: StepBuilder
    listeners: tuple[Listener, ...] = field(default_factory=tuple)


def is_inconclusive(state: StepState) -> bool:
    """Failed only because its job could not decide (verify without any baseline)."""
    return state.state == "failed" and (state.note or "").startswith(INCONCLUSIVE_NOTE)


def fill_command(command: str, view: StepView) -> str:
    """A by-hand command with this incident's deployment folder and chosen backup filled in."""
    incident, ctx = view.incident, view.ctx
    sha = next(
        (b.sha256 for b in ctx.backups or [] if b.name == incident.chosen_backup and b.sha256),
        "<sha256 from backups list>",
    )
    return (
        command.replace("{deployment}", ctx.deployment or DEPLOYMENT_PLACEHOLDER)
        .replace("{backup_sha256}", sha)
        .replace("{backup}", incident.chosen_backup or "<backup name>")
    )


def command_lines(view: StepView) -> list[str]:
    """The checklist's commands, each one that lies followed by its warning, then what really does it.

    Escaped: a chosen backup's name is whatever the host's file is called (``<!here>.db`` included),
    shell commands have ``>``/``&``, and the placeholders are ``<backup name>``-style."""
    step, indent = view.step, view.indent
    lines: list[str] = []
    for cmd in step.commands:
        where = f" _({cmd.where})_" if cmd.where else ""
        lines.append(f"{indent}`{esc(cmd.run)}`{where}")
        if cmd.warning:
            lines.append(f"{indent}\u2003:warning: {esc(fill_command(cmd.warning, view))}")
    if step.by_hand:
        lines.append(f"{indent}_By hand, what really does it:_")
        lines.extend(f"{indent}\u2003`{esc(fill_command(c, view))}`" for c in step.by_hand)
    return lines


def _who(state: StepState) -> str:
    if state.actor == AGENT_ACTOR:
        return f"the agent (job `{state.job_id or '?'}`)"
    return mention(state.actor)


def state_text(view: StepView) -> SectionBlock:
    """Icon, title and detail; the commands (with warnings) while pending or failed; who did what,
    when, once it moved (the agent and its job for a step ticked from a result's checks)."""
    step, state, indent = view.step, view.state, view.indent
    unsure = is_inconclusive(state)
    icon = ":grey_question:" if unsure else STATE_ICON.get(state.state, "")
    lines = [f"{indent}{icon} *{step.title}*" + (f": {step.detail}" if step.detail else "")]
    if state.state in ("pending", "failed"):
        lines.extend(command_lines(view))
    if state.state != "pending":
        verb = "Inconclusive" if unsure else STATE_VERB.get(state.state, state.state)
        who = f"{indent}_{verb} by {_who(state)} at {fmt_time(state.at)}_"
        if state.note:
            who += f" · {esc_keep_mentions(state.note)}"
        lines.append(who)
    return SectionBlock(block_id=f"s|{step.id}", text=MarkdownTextObject(text=clip("\n".join(lines))))


def state_buttons(state: str, ref: str, run: ButtonElement | None = None) -> list[ButtonElement]:
    """Done / Skip (pending), Done / Skip / Undo (failed), Undo (done, skipped); ``run`` leads the row."""
    head = [run] if run is not None else []
    done_style = None if run is not None else "primary"
    if state == "pending":
        return [
            *head,
            ButtonElement(text="Done", action_id=ActionId.STEP_DONE, value=ref, style=done_style),
            ButtonElement(text="Skip", action_id=ActionId.STEP_SKIP, value=ref),
        ]
    if state == "failed":
        return [
            *head,
            ButtonElement(text="Done", action_id=ActionId.STEP_DONE, value=ref),
            ButtonElement(text="Skip", action_id=ActionId.STEP_SKIP, value=ref),
            ButtonElement(text="Undo", action_id=ActionId.STEP_UNDO, value=ref),
        ]
    if state in ("done", "skipped"):
        return [ButtonElement(text="Undo", action_id=ActionId.STEP_UNDO, value=ref)]
    return []


def step_blocks(
    view: StepView,
    *,
    leading: Sequence[Any] = (),
    notes: Sequence[Block] = (),
    run: ButtonElement | None = None,
    ref: str | None = None,
) -> list[Block]:
    """The state line, then (while the incident is open) ``notes`` and one row of controls:
    ``leading`` elements (a select), ``run``, and the state buttons."""
    blocks: list[Block] = [state_text(view)]
    if not view.incident.is_open:
        return blocks
    blocks.extend(notes)
    elements = [*leading, *state_buttons(view.state.state, ref or view.ref, run)]
    if elements:
        blocks.append(ActionsBlock(block_id=f"a|{view.step.id}", elements=elements))
    return blocks
