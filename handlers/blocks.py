"""Block Kit builders: domain state in, Slack message (text + blocks) out.

Pure functions with no I/O, so every message can be checked against the Block Kit limits in unit
tests. Built with slack_sdk's block models, which validate lengths as they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.incidents import Incident, StepState
from bot.paging import PagingView
from bot.runbook import RunbookSection
from handlers.actions_ids import ActionId
from handlers.elements import confirm_dialog
from handlers.limits import MAX_HEADER, check_limits, clip
from handlers.message import SlackMessage
from handlers.paging_blocks import paging_status_blocks
from handlers.results import backup_select
from handlers.steps import STEP_VIEWS, SectionContext, StepView, option_choice
from handlers.text import esc_clip, fmt_due, fmt_time, mention
from ops.models import BackupInfo


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
    due = fmt_due(incident.due_at, now) if now and incident.is_open else fmt_time(incident.due_at)
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
        MarkdownTextObject(text=f"*Due by*\n{due}"),
        MarkdownTextObject(text=f"*State*\n{state}"),
        MarkdownTextObject(text=f"*Checklist*\n{done}/{total} steps done or skipped"),
    ]
    title = clip(f":rotating_light: {incident.id}: emergency media-migration rollback", MAX_HEADER)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title))]
    if incident.summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Summary:* {esc_clip(incident.summary, 2900)}")))
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
    """One thread message per runbook section: each step as its kind draws it; the progress counts
    only checklist items (an option section's "Choose option N" is none)."""
    header = section.title
    if section.option_label and section.option_label.lower() not in section.title.lower():
        header += f" ({section.option_label})"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(header, MAX_HEADER)))]
    context = ctx or SectionContext()
    for step, depth in section.walk():
        # a step that is no checklist item has no stored state: its kind draws it from the incident
        state = steps[step.id] if step.counts_as_checklist_item else StepState(incident_id=incident.id, step_id=step.id)
        view = StepView(incident=incident, step=step, state=state, depth=depth, ctx=context)
        blocks.extend(STEP_VIEWS[step.kind].build(view))
    blocks.append(DividerBlock())
    items = [s for s, _ in section.iter_steps()]
    done = sum(1 for s in items if steps[s.id].state in ("done", "skipped"))
    text = f"{incident.id} · {section.title}: {done}/{len(items)} done"
    return _message(text, blocks)


def ephemeral_text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": clip(text)}


def fallback_offer(
    incident: Incident, section: RunbookSection, failed_operation: str, reason: str, backups: list[BackupInfo]
) -> SlackMessage:
    """After option N fails: offer option N+1, with the backup menu (newest pre-migration preselected)."""
    assert section.option is not None
    label = f" ({section.option_label})" if section.option_label else ""
    lines = [
        f":arrows_counterclockwise: *Option {section.option - 1} failed* at `{failed_operation}`: "
        + esc_clip(reason, 500),
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
    ref = option_choice.option_ref(incident.id, section.option)
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
