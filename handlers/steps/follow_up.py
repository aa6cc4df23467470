"""Follow-up tasks: owner, due date, "Set owner and due date" (a dialog) and "Mark done".

Unlike the other kinds, their controls keep working after the incident is closed: follow-ups are
what happens after it. The dialog's submission and the due-date reminder are in
handlers/follow_up_actions.py; the rules in bot/follow_ups.py.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from handlers.actions_ids import ActionId
from handlers.follow_up_actions import assign_listener, done_listener
from handlers.follow_up_blocks import follow_up_buttons, follow_up_line
from handlers.steps.base import Listener, StepKindView, StepView, state_text


def build(view: StepView) -> list[Block]:
    item = view.ctx.follow_ups.get(view.step.id)
    blocks: list[Block] = [
        state_text(view),
        ContextBlock(elements=[MarkdownTextObject(text=follow_up_line(item, view.ctx.time_zone, view.indent))]),
    ]
    done = view.state.state in ("done", "skipped") or (item is not None and item.state == "done")
    buttons = follow_up_buttons(view.incident.id, view.step.id, item, done=done)
    if buttons is not None:
        blocks.append(buttons)
    return blocks


VIEW = StepKindView(
    build=build,
    listeners=(
        Listener(ActionId.FOLLOW_UP_ASSIGN, assign_listener),
        Listener(ActionId.FOLLOW_UP_DONE, done_listener),
    ),
)
