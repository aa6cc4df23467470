"""Follow-up tasks in the Follow-up section and in the owner's DM: owner, due date, two buttons.

The buttons stay after the incident is closed: follow-ups are what happens after it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, MarkdownTextObject, SectionBlock

from bot.follow_ups import FollowUp
from handlers.actions_ids import ActionId, StepRef
from handlers.limits import check_limits, clip
from handlers.message import SlackMessage
from handlers.text import mention


def due_text(item: FollowUp, time_zone: str) -> str:
    local = item.due_at.astimezone(ZoneInfo(time_zone))
    return f"{local:%a %Y-%m-%d %H:%M} {time_zone}"


def follow_up_line(item: FollowUp | None, time_zone: str, indent: str = "") -> str:
    if item is None:
        return f"{indent}_No owner yet._"
    if item.state == "done":
        return f"{indent}_Owner {mention(item.owner)}; done by {mention(item.done_by)}._"
    reminded = " · reminder sent" if item.reminded_at else ""
    return f"{indent}_Owner {mention(item.owner)}, due {due_text(item, time_zone)}{reminded}._"


def follow_up_buttons(incident_id: str, step_id: str, item: FollowUp | None, *, done: bool) -> ActionsBlock | None:
    if done:
        return None
    ref = StepRef(incident_id=incident_id, step_id=step_id).encode()
    elements: list[Any] = [
        ButtonElement(
            text="Set owner and due date" if item is None else "Change owner or due date",
            action_id=ActionId.FOLLOW_UP_ASSIGN,
            value=ref,
        )
    ]
    if item is not None:
        elements.append(ButtonElement(text="Mark done", action_id=ActionId.FOLLOW_UP_DONE, value=ref, style="primary"))
    return ActionsBlock(block_id=f"f|{step_id}", elements=elements)


def reminder_dm(item: FollowUp, time_zone: str, permalink: str | None) -> SlackMessage:
    where = f" (<{permalink}|incident thread>)" if permalink else ""
    text = (
        f":alarm_clock: Follow-up due: *{item.title}* for {item.incident_id}{where}, due {due_text(item, time_zone)}."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(text)))]
    buttons = follow_up_buttons(item.incident_id, item.step_id, item, done=False)
    assert buttons is not None
    blocks.append(buttons)
    return SlackMessage(text=clip(text, 3000), blocks=check_limits([b.to_dict() for b in blocks]))
