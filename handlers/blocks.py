"""Block Kit builders: domain state in, Slack message (text + blocks) out.

Pure functions with no I/O, so every message can be checked against the Block Kit limits in unit
tests. Built with slack_sdk's block models, which validate lengths as they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.follow_ups import FollowUp
from bot.incidents import Incident, StepState
from bot.paging import PagingView
from bot.runbook import RunbookSection, RunbookStep
from handlers.actions_ids import ActionId, StepRef
from handlers.follow_up_blocks import follow_up_buttons, follow_up_line
from handlers.limits import MAX_HEADER, check_limits, clip
from handlers.message import SlackMessage
from handlers.paging_blocks import paging_status_blocks
from handlers.result_blocks import backup_select
from handlers.text import fmt_due, fmt_time, mention

STATE_ICON = {
    "pending": ":white_square:",
    "running": ":hourglass_flowing_sand:",
    "done": ":white_check_mark:",
    "skipped": ":fast_forward:",
    "failed": ":x:",
}
STATE_VERB = {"done": "Done", "skipped": "Skipped", "failed": "Failed", "running": "Running"}


class SectionContext(BaseModel):
    """What a section render needs besides the store: is an agent there, which backups it has,
    the follow-up tasks' owners and due dates (shown in the record's time zone)."""

    agent_url: str | None = None
    backups: list[dict[str, Any]] | None = None
    follow_ups: dict[str, FollowUp] = {}
    follow_up_steps: frozenset[str] = frozenset()
    time_zone: str = "UTC"


def _message(text: str, blocks: list[Block]) -> SlackMessage:
    dicts = [b.to_dict() for b in blocks]
    return SlackMessage(text=clip(text, 3000), blocks=check_limits(dicts))


class RecordLink(BaseModel):
    """The latest stored record version of a closed incident, and where it was uploaded."""

    version: int
    url: str | None = None


def incident_parent(
    incident: Incident,
    *,
    done: int,
    total: int,
    agent_url: str | None,
    now: datetime | None = None,
    paging: PagingView | None = None,
    record: RecordLink | None = None,
) -> SlackMessage:
    """The channel message that anchors the incident thread (``paging``: who was paged, by role)."""
    due = incident.opened_at + timedelta(minutes=incident.target_minutes)
    state = {
        "open": ":red_circle: open",
        "resolved": ":large_green_circle: resolved",
        "cancelled": ":white_circle: cancelled",
    }.get(incident.state, incident.state)
    target = _target_text(incident.target_minutes)
    fields = [
        MarkdownTextObject(text=f"*Severity*\n{incident.severity} (target {target})"),
        MarkdownTextObject(text=f"*Environment*\n`{incident.environment}`"),
        MarkdownTextObject(text=f"*Opened by*\n{mention(incident.opened_by)} at {fmt_time(incident.opened_at)}"),
        MarkdownTextObject(text=f"*Due by*\n{fmt_due(due, now) if now and incident.is_open else fmt_time(due)}"),
        MarkdownTextObject(text=f"*State*\n{state}"),
        MarkdownTextObject(text=f"*Checklist*\n{done}/{total} steps done or skipped"),
    ]
    title = clip(f":rotating_light: {incident.id}: emergency media-migration rollback", MAX_HEADER)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title))]
    if incident.summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Summary:* {incident.summary}"))))
    blocks.append(SectionBlock(fields=fields))
    if paging is not None:
        blocks.extend(paging_status_blocks(incident, paging))
    host = f"host agent {agent_url}" if agent_url else "no host agent configured (manual steps only)"
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=clip(f"Everything for this incident happens in this thread. {host}."))]
        )
    )
    if incident.state == "open":
        blocks.append(
            ActionsBlock(
                block_id="incident",
                elements=[
                    ButtonElement(
                        text="Resolve incident",
                        action_id=ActionId.INCIDENT_RESOLVE,
                        value=incident.id,
                        style="primary",
                    ),
                    ButtonElement(
                        text="Cancel incident",
                        action_id=ActionId.INCIDENT_CANCEL,
                        value=incident.id,
                        confirm=confirm_dialog(
                            f"Cancel {incident.id}?",
                            f"Close {incident.id} on {incident.environment} as cancelled (opened by mistake, "
                            "or a duplicate). Nothing on the host is changed; a short record is posted.",
                            confirm="Cancel incident",
                        ),
                    ),
                ],
            )
        )
    elif incident.closed_at is not None:
        closed = f"{incident.state} by {mention(incident.closed_by)} at {fmt_time(incident.closed_at)}"
        if incident.resolution:
            closed += f": {incident.resolution}"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(closed))]))
        if record is not None:
            name = f"incident record v{record.version}"
            link = f"<{record.url}|{name}>" if record.url else f"{name} (`rollback-bot record {incident.id}`)"
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f":page_facing_up: {link}"))))
        blocks.append(
            ActionsBlock(
                block_id="incident",
                elements=[
                    ButtonElement(
                        text="Reopen incident",
                        action_id=ActionId.INCIDENT_REOPEN,
                        value=incident.id,
                        confirm=confirm_dialog(
                            f"Reopen {incident.id}?",
                            f"Open {incident.id} on {incident.environment} again (the fix did not hold). Resolving "
                            "it again stores a new version of its record; the earlier ones are kept.",
                            confirm="Reopen",
                        ),
                    )
                ],
            )
        )
    text = (
        f"{incident.id} ({incident.severity}, target {target}) rollback incident on "
        f"{incident.environment}, opened by {mention(incident.opened_by)}"
    )
    return _message(text, blocks)


def _target_text(minutes: int) -> str:
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


def section_message(
    incident: Incident,
    section: RunbookSection,
    steps: Mapping[str, StepState],
    ctx: SectionContext | None = None,
) -> SlackMessage:
    """One thread message per runbook section, with a Done/Skip (or Undo) row per step."""
    header = section.title
    if section.option_label and section.option_label.lower() not in section.title.lower():
        header += f" ({section.option_label})"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(header, MAX_HEADER)))]
    if section.option is not None:
        blocks.extend(_option_blocks(incident, section))
    if incident.state == "open" and any(
        s.completed_by == "stakeholder_notice" for s, _ in _walk_steps(section.steps, 0)
    ):
        blocks.append(
            ActionsBlock(
                block_id="notice",
                elements=[
                    ButtonElement(
                        text="Send stakeholder notice",
                        action_id=ActionId.NOTICE_OPEN,
                        value=incident.id,
                        style="primary",
                    )
                ],
            )
        )
    for step, depth in _walk_steps(section.steps, 0):
        blocks.extend(_step_blocks(incident, step, steps[step.id], depth, ctx or SectionContext()))
    blocks.append(DividerBlock())
    done = sum(1 for s, _ in _walk_steps(section.steps, 0) if steps[s.id].state in ("done", "skipped"))
    total = sum(1 for _ in _walk_steps(section.steps, 0))
    text = f"{incident.id} · {section.title}: {done}/{total} done"
    return _message(text, blocks)


def _walk_steps(steps: list[RunbookStep], depth: int) -> list[tuple[RunbookStep, int]]:
    out: list[tuple[RunbookStep, int]] = []
    for s in steps:
        out.append((s, depth))
        out.extend(_walk_steps(s.children, depth + 1))
    return out


def _option_blocks(incident: Incident, section: RunbookSection) -> list[Block]:
    assert section.option is not None
    if incident.chosen_option == section.option:
        return [
            ContextBlock(
                elements=[MarkdownTextObject(text=f":point_right: Option {section.option} is the chosen path.")]
            )
        ]
    ref = StepRef(incident_id=incident.id, step_id=f"option:{section.option}")
    label = f"Choose option {section.option}"
    note = "" if incident.chosen_option is None else f" (currently option {incident.chosen_option})"
    return [
        SectionBlock(
            block_id=f"option|{section.option}",
            text=MarkdownTextObject(text=f"Option {section.option}: {section.option_label or 'this path'}{note}."),
            accessory=ButtonElement(text=label, action_id=ActionId.OPTION_CHOOSE, value=ref.encode()),
        )
    ]


def _step_blocks(
    incident: Incident, step: RunbookStep, state: StepState, depth: int, ctx: SectionContext
) -> list[Block]:
    indent = "\u2003" * depth
    lines = [f"{indent}{STATE_ICON.get(state.state, '')} *{step.title}*" + (f": {step.detail}" if step.detail else "")]
    if step.commands and state.state == "pending":
        lines.append(indent + " ".join(f"`{c}`" for c in step.commands))
    if state.state != "pending":
        verb = STATE_VERB.get(state.state, state.state)
        who = f"{indent}_{verb} by {mention(state.actor)} at {fmt_time(state.at)}_"
        if state.note:
            who += f" · {state.note}"
        lines.append(who)
    ref = StepRef(incident_id=incident.id, step_id=step.id).encode()
    if step.id in ctx.follow_up_steps:  # owner, due date and their buttons, also after the close
        item = ctx.follow_ups.get(step.id)
        lines.append(follow_up_line(item, ctx.time_zone, indent))
        done = state.state in ("done", "skipped") or (item is not None and item.state == "done")
        text = MarkdownTextObject(text=clip("\n".join(lines)))
        buttons = follow_up_buttons(incident.id, step.id, item, done=done)
        return [SectionBlock(block_id=f"s|{step.id}", text=text), *([buttons] if buttons else [])]
    blocks: list[Block] = [SectionBlock(block_id=f"s|{step.id}", text=MarkdownTextObject(text=clip("\n".join(lines))))]
    if incident.state != "open":
        return blocks
    elements: list[Any] = []
    if step.choice == "backup" and state.state == "pending":
        select = backup_select(
            backups=ctx.backups or [], chosen=incident.chosen_backup, action_id=ActionId.BACKUP_SELECT
        )
        if select is not None:
            elements.append(select)
        else:
            blocks.append(
                ContextBlock(
                    elements=[MarkdownTextObject(text=f"{indent}_Run *List available backups* to choose one._")]
                )
            )
    runnable = step.agent_op is not None and ctx.agent_url is not None
    if runnable and step.agent_args_from == "chosen_backup" and incident.chosen_backup:
        # Pin what the confirm dialog names: a Run click is refused if the choice changed since.
        ref = StepRef(incident_id=incident.id, step_id=step.id, arg=incident.chosen_backup).encode()
    run = _run_button(incident, step, state.state, ref, ctx) if runnable else None
    elements.extend(_step_buttons(state.state, ref, run))
    if elements:
        blocks.append(ActionsBlock(block_id=f"a|{step.id}", elements=elements))
    return blocks


def _run_button(
    incident: Incident, step: RunbookStep, state: str, ref: str, ctx: SectionContext
) -> ButtonElement | None:
    """Run (pending) or Retry (failed); destructive operations ask first, naming the environment."""
    if state not in ("pending", "failed"):
        return None
    label = "Run" if state == "pending" else "Retry"
    action = ActionId.STEP_RUN if state == "pending" else ActionId.STEP_RETRY
    confirm = None
    if step.confirm:
        what = step.confirm
        if step.agent_args_from == "chosen_backup":
            sha = next(
                (str(b.get("sha256", ""))[:12] for b in ctx.backups or [] if b.get("name") == incident.chosen_backup),
                "",
            )
            what += (
                f" Backup: {incident.chosen_backup}" + (f" (sha256 {sha}…)." if sha else ".")
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


def _step_buttons(state: str, ref: str, run: ButtonElement | None = None) -> list[ButtonElement]:
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


def confirm_dialog(title: str, text: str, confirm: str = "Yes, do it") -> ConfirmObject:
    return ConfirmObject(title=clip(title, 100), text=clip(text, 300), confirm=confirm, deny="Cancel", style="danger")


def ephemeral_text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": clip(text)}


def fallback_offer(
    incident: Incident, section: RunbookSection, failed_operation: str, reason: str, backups: list[dict[str, Any]]
) -> SlackMessage:
    """After option N fails: offer option N+1, with the backup menu (newest pre-migration preselected)."""
    assert section.option is not None
    label = f" ({section.option_label})" if section.option_label else ""
    lines = [
        f":arrows_counterclockwise: *Option {section.option - 1} failed* at `{failed_operation}`: {clip(reason, 500)}",
        f"Next: *{section.title}*{label}.",
    ]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]
    select = backup_select(backups=backups, chosen=incident.chosen_backup, action_id=ActionId.BACKUP_SELECT)
    if select is not None:
        blocks.append(
            SectionBlock(
                block_id=f"offer|{section.option}",
                text=MarkdownTextObject(text="Backup to restore (the newest pre-migration one is preselected):"),
                accessory=select,
            )
        )
    else:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=":warning: No valid backup was found on the host.")])
        )
    ref = StepRef(incident_id=incident.id, step_id=f"option:{section.option}").encode()
    blocks.append(
        ActionsBlock(
            block_id=f"offer-actions|{section.option}",
            elements=[
                ButtonElement(
                    text=f"Choose option {section.option}", action_id=ActionId.OPTION_CHOOSE, value=ref, style="primary"
                )
            ],
        )
    )
    text = f"{incident.id}: option {section.option - 1} failed at {failed_operation}; option {section.option} offered"
    return _message(text, blocks)
