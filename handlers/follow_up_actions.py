"""Follow-up tasks from Slack: the owner-and-due-date dialog, Mark done, and the due-date reminder.

The rules (which steps are follow-ups, due dates in the future, done once, one reminder per
assignment) are bot/follow_ups.py's; this only translates clicks and submissions, and posts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.follow_ups import FollowUp, FollowUpError
from bot.incidents import UnknownIncident
from handlers.actions_ids import StepRef
from handlers.clicks import tell_clicker
from handlers.deps import HandlerDeps
from handlers.follow_up_blocks import due_text, reminder_dm
from handlers.payloads import BlockActions
from handlers.record_views import FOLLOW_UP_CALLBACK, FollowUpSubmission, follow_up_modal, follow_up_submission

log = logging.getLogger(__name__)


def _ref(deps: HandlerDeps, payload: BlockActions) -> StepRef | None:
    """The clicked task; closed incidents are fine here (follow-ups come after the close)."""
    try:
        ref = StepRef.decode(payload.action.value or "")
        deps.service.get(ref.incident_id)
    except (ValueError, UnknownIncident) as exc:
        tell_clicker(deps, payload, f":warning: This control no longer applies ({exc}).")
        return None
    return ref


def assign_listener(deps: HandlerDeps) -> Callable[..., None]:
    """ "Set owner and due date": open the dialog, prefilled with the current owner and date."""

    def follow_up_assign(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        ref = _ref(deps, payload)
        if ref is None:
            return
        item = deps.follow_ups.get(ref.incident_id, ref.step_id)
        title = dict(deps.follow_ups.tasks()).get(ref.step_id, ref.step_id)
        view = follow_up_modal(
            ref.incident_id,
            ref.step_id,
            title,
            deps.time_zone,
            item.owner if item else None,
            item.due_at if item else None,
        )
        try:
            deps.publisher.client.views_open(trigger_id=payload.trigger_id or "", view=view)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else exc
            tell_clicker(deps, payload, f":warning: The dialog did not open ({error}); press the button again.")

    return follow_up_assign


def done_listener(deps: HandlerDeps) -> Callable[..., None]:
    """ "Mark done", in the thread or in the reminder DM."""

    def follow_up_done(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        payload = BlockActions.parse(body)
        ref = _ref(deps, payload)
        if ref is None:
            return
        try:
            item = deps.follow_ups.complete(ref.incident_id, ref.step_id, payload.user.id)
        except FollowUpError as exc:
            tell_clicker(deps, payload, f":information_source: {exc}; nothing changed.")
            return
        incident = deps.service.get(item.incident_id)
        deps.publisher.reply(incident, f":white_check_mark: <@{payload.user.id}> marked *{item.title}* done.")
        deps.publisher.refresh_step(incident.id, item.step_id)
        if (payload.channel_id or "").startswith("D") and payload.container.message_ts:
            try:  # the reminder DM: its buttons are spent
                deps.publisher.client.chat_update(
                    channel=payload.channel_id or "",
                    ts=payload.container.message_ts,
                    text=f"Done: {item.title} ({item.incident_id}).",
                    blocks=[],
                )
            except SlackApiError as exc:
                log.info("could not update the reminder DM: %s", exc)

    return follow_up_done


def register(app: App, deps: HandlerDeps) -> None:
    """The dialog's submission and the reminder (the buttons are the follow_up step kind's)."""
    follow_ups = deps.follow_ups
    time_zone = deps.time_zone

    @app.view(FOLLOW_UP_CALLBACK)
    def follow_up_assign_modal(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        parsed = follow_up_submission(view, time_zone)
        if not isinstance(parsed, FollowUpSubmission):
            ack(response_action="errors", errors=parsed)
            return
        try:
            item = follow_ups.assign(parsed.incident_id, parsed.step_id, parsed.owner, parsed.due_at, user)
        except (FollowUpError, UnknownIncident) as exc:
            ack(response_action="errors", errors={"due_date": str(exc)})
            return
        ack()
        incident = deps.service.get(item.incident_id)
        deps.publisher.reply(
            incident,
            f"<@{item.owner}> owns *{item.title}* for {incident.id}, due {due_text(item, time_zone)} "
            f"(set by <@{user}>). A reminder comes by DM and here when it is due.",
        )
        deps.publisher.refresh_step(incident.id, item.step_id)

    def remind(item: FollowUp) -> None:
        """The reminder timer fired: tell the owner by DM and the team in the thread."""
        incident = deps.service.get(item.incident_id)
        client = deps.publisher.client
        permalink = None
        try:
            if incident.thread_ts:
                permalink = client.chat_getPermalink(channel=incident.channel, message_ts=incident.thread_ts).get(
                    "permalink"
                )
            dm = client.conversations_open(users=item.owner)["channel"]["id"]
            msg = reminder_dm(item, time_zone, permalink)
            client.chat_postMessage(channel=dm, text=msg.text, blocks=msg.blocks)
        except SlackApiError as exc:
            log.warning("could not DM the follow-up reminder to %s: %s", item.owner, exc)
        deps.publisher.reply(
            incident,
            f":alarm_clock: <@{item.owner}> *{item.title}* ({incident.id}) is due now ({due_text(item, time_zone)}).",
        )
        deps.publisher.refresh_step(incident.id, item.step_id)

    follow_ups.on_reminder(remind)
