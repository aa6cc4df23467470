"""The stakeholder notice modal (opened by the stakeholder-notice step's button, handlers/steps): its
view, and Submit, which posts the (edited) notice to the chosen audiences' channels, records it,
links it in the thread and ticks the matching steps."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain import AUDIENCE_LABELS
from bot.incidents import Incident, UnknownIncident
from bot.notice import NOTICE_TITLE, NoticeDelivery, audiences, record_notice
from handlers.deps import HandlerDeps
from handlers.limits import clip
from handlers.message import SlackMessage
from handlers.text import esc_clip, fmt_due, fmt_time, mention

log = logging.getLogger(__name__)

CALLBACK_ID = "stakeholder_notice"
TEXT_ID = "notice_text"
AUDIENCES_ID = "notice_audiences"
MAX_NOTICE_CHARS = 2900  # a section's text holds 3000


def notice_modal(incident: Incident, draft: str, channels: dict[str, str]) -> dict[str, Any]:
    # Checkbox options take mrkdwn, so Slack shows each channel by its name (a plain-text label could
    # only show its ID). A label is at most 75 characters.
    options = [
        Option(value=audience, text=MarkdownTextObject(text=f"{clip(AUDIENCE_LABELS[audience], 50)} → <#{channel}>"))
        for audience, channel in channels.items()
    ]
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=incident.id,
        title=PlainTextObject(text="Stakeholder notice"),
        submit=PlainTextObject(text="Send notice"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"For *{incident.id}* on `{incident.environment}`. Edit the text as you like: what you "
                    "send is what is posted, recorded and linked in the incident thread."
                )
            ),
            InputBlock(
                block_id=TEXT_ID,
                label=PlainTextObject(text="Notice"),
                element=PlainTextInputElement(
                    action_id=TEXT_ID,
                    multiline=True,
                    initial_value=clip(draft, MAX_NOTICE_CHARS),
                    max_length=MAX_NOTICE_CHARS,
                ),
            ),
            InputBlock(
                block_id=AUDIENCES_ID,
                label=PlainTextObject(text="Send to"),
                element=CheckboxesElement(action_id=AUDIENCES_ID, options=options, initial_options=options),
            ),
        ],
    )
    return view.to_dict()


def notice_post(incident: Incident, text: str, sender: str, now: Any) -> tuple[str, list[dict[str, Any]]]:
    context = (
        f"Sent by {mention(sender)} for {incident.id} · rollback started {fmt_time(incident.opened_at)} · "
        f"target {fmt_due(incident.due_at, now)}"
    )
    shown = esc_clip(text, 3000)  # what the person typed shows as typed: no <!channel>, no disguised links
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=shown)).to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text=clip(context, 3000))]).to_dict(),
    ]
    return shown, blocks


def register(app: App, deps: HandlerDeps) -> None:
    """The modal's submission (a view, not a block action, so not a step-kind listener)."""

    @app.view(CALLBACK_ID)
    def submit_notice(ack: Ack, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(TEXT_ID) or {}).get(TEXT_ID) or {}).get("value") or "").strip()
        picked = ((values.get(AUDIENCES_ID) or {}).get(AUDIENCES_ID) or {}).get("selected_options") or []
        chosen = [str(o.get("value")) for o in picked if isinstance(o, dict)]
        errors = {}
        if not text:
            errors[TEXT_ID] = "The notice is empty."
        if not chosen:
            errors[AUDIENCES_ID] = "Choose at least one audience."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        user = str((body.get("user") or {}).get("id") or "")
        try:
            incident = deps.service.get(str(view.get("private_metadata") or ""))
        except UnknownIncident:
            log.warning("stakeholder notice for an unknown incident %r", view.get("private_metadata"))
            return
        # Posting to the audiences' channels (a drill's: its own thread) is Web API work: the publisher's workers do it.
        deps.publisher.queue.submit(
            ("notice", incident.id, body.get("trigger_id") or view.get("id") or user),
            lambda: send_notice(deps, incident, user, text, chosen),
        )


def send_notice(deps: HandlerDeps, incident: Incident, user: str, text: str, chosen: list[str]) -> list[NoticeDelivery]:
    client = deps.publisher.client
    channels = audiences(deps.paging.contacts)
    post_text, blocks = notice_post(incident, text, user, deps.service.clock())
    deliveries: list[NoticeDelivery] = []
    thread_ts: str | None = None
    if incident.drill:  # a rehearsal's notice stays in its own thread, marked DRILL: stakeholders never see it
        drilled = deps.publisher.marked(incident, SlackMessage(text=post_text, blocks=blocks))
        post_text, blocks, thread_ts = drilled.text, drilled.blocks, incident.thread_ts
        channels = {audience: incident.channel for audience in channels}
    for audience in chosen:
        channel = channels.get(audience)
        if channel is None:
            continue
        delivery = NoticeDelivery(audience=audience, channel=channel)
        try:
            resp = client.chat_postMessage(channel=channel, text=post_text, blocks=blocks, thread_ts=thread_ts)
            delivery.ts = str(resp["ts"])
            delivery.permalink = str(client.chat_getPermalink(channel=channel, message_ts=delivery.ts)["permalink"])
        except SlackApiError as exc:
            delivery.error = str(exc.response.get("error", exc)) if delivery.ts is None else None
        except Exception as exc:
            delivery.error = delivery.error or (str(exc) if delivery.ts is None else None)
        deliveries.append(delivery)
    ticked = record_notice(deps.service, incident.id, user, text, deliveries)
    for step_id in ticked:
        deps.publisher.refresh_step(incident.id, step_id)
    deps.publisher.reply(incident, _thread_line(incident, user, text, deliveries))
    return deliveries


def _thread_line(incident: Incident, user: str, text: str, deliveries: list[NoticeDelivery]) -> str:
    # A link's label is plain text in mrkdwn (no mention inside it): the audience links to its notice.
    sent = [
        f"<{d.permalink}|{AUDIENCE_LABELS[d.audience]}> (<#{d.channel}>)"
        if d.permalink
        else f"{AUDIENCE_LABELS[d.audience]} (<#{d.channel}>)"
        for d in deliveries
        if d.error is None
    ]
    failed = [f"{AUDIENCE_LABELS[d.audience]} (<#{d.channel}>: `{d.error}`)" for d in deliveries if d.error]
    first = text.splitlines()[0] if text else NOTICE_TITLE
    line = f":mega: {mention(user)} sent the stakeholder notice \u201c{esc_clip(first, 150)}\u201d"
    line += f" to {', '.join(sent)}." if sent else "."
    if failed:
        line += f" :warning: Could not post to {', '.join(failed)}; notify them by hand."
    return line
