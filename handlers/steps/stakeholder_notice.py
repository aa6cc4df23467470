"""Stakeholder-notice steps: the one without an audience carries **Send stakeholder notice**, which
opens the prefilled modal (handlers/notice_actions.py submits it); the ones with an audience are
ticked when a sent notice reached that audience's channel (Done / Skip stay for notifying by hand)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement

from bot.notice import audiences, draft_notice
from handlers.actions_ids import ActionId
from handlers.clicks import StepClick, on_click, tell_clicker
from handlers.deps import HandlerDeps
from handlers.notice_actions import notice_modal
from handlers.steps.base import Listener, StepKindView, StepView, step_blocks


def build(view: StepView) -> list[Block]:
    step = view.step
    if getattr(step, "audience", None) is not None:
        return step_blocks(view)
    button = ButtonElement(
        text="Send stakeholder notice", action_id=ActionId.NOTICE_OPEN, value=view.ref, style="primary"
    )
    return step_blocks(view, leading=[button])


def _open(deps: HandlerDeps, click: StepClick) -> None:
    channels = audiences(deps.paging.contacts)
    if not channels:
        tell_clicker(
            deps,
            click.payload,
            ":information_source: No stakeholder channels are configured (`stakeholders.channels` in the "
            "contacts file, ROLLBACK_CONTACTS_PATH). Notify stakeholders by hand and tick the steps.",
        )
        return
    if not click.payload.trigger_id:
        tell_clicker(deps, click.payload, ":warning: Slack sent no trigger id; press the button again.")
        return
    draft = draft_notice(deps.service, click.incident, deps.service.clock())
    deps.publisher.client.views_open(
        trigger_id=click.payload.trigger_id, view=notice_modal(click.incident, draft, channels)
    )


VIEW = StepKindView(
    build=build, listeners=(Listener(ActionId.NOTICE_OPEN, lambda deps: on_click(deps, _open, name="notice_open")),)
)
