"""Modals for closing an incident and for follow-up tasks: builders and what their submissions hold.

Builders are pure (slack_sdk view models, so lengths are validated as they are built); parsing a
submission returns a pydantic model or the per-field errors Slack shows under the inputs.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    TimePickerElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.record.model import ClosingNotes
from bot.record.prefill import FIELD_MAX

RESOLVE_CALLBACK = "incident_resolve_modal"
FOLLOW_UP_CALLBACK = "follow_up_assign_modal"
DEFAULT_DUE_TIME = "09:00"

_NOTES_FIELDS = (
    ("root_cause", "Root cause", "What broke, as far as we know now", False),
    ("resolution_summary", "Resolution", "What fixed it", False),
    ("lessons_learned", "Lessons learned", "What we change so it does not happen again", True),
)


def resolve_modal(incident_id: str, environment: str, prefill: ClosingNotes) -> dict[str, Any]:
    """Resolve dialog, prefilled from what the bot saw; everything stays editable."""
    blocks: list[Any] = [
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Resolving *{incident_id}* on `{environment}`. The bot filled in what it saw; correct and "
                    "complete it. The incident record is posted in the thread when you press Resolve."
                )
            ]
        )
    ]
    for field, label, placeholder, optional in _NOTES_FIELDS:
        initial = getattr(prefill, field)[:FIELD_MAX] or None
        blocks.append(
            InputBlock(
                block_id=field,
                label=PlainTextObject(text=label),
                optional=optional,
                element=PlainTextInputElement(
                    action_id=field,
                    multiline=True,
                    max_length=FIELD_MAX,
                    initial_value=initial,
                    placeholder=PlainTextObject(text=placeholder),
                ),
            )
        )
    view = View(
        type="modal",
        callback_id=RESOLVE_CALLBACK,
        private_metadata=incident_id,
        title=PlainTextObject(text=f"Resolve {incident_id}"[:24]),
        submit=PlainTextObject(text="Resolve"),
        close=PlainTextObject(text="Not yet"),
        blocks=blocks,
    )
    return view.to_dict()


def _input_values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for by_action in ((view.get("state") or {}).get("values") or {}).values():
        out.update(by_action)
    return out


def closing_notes(view: dict[str, Any]) -> ClosingNotes:
    values = _input_values(view)
    return ClosingNotes(**{f: str((values.get(f) or {}).get("value") or "").strip() for f, *_ in _NOTES_FIELDS})


class FollowUpSubmission(BaseModel):
    incident_id: str
    step_id: str
    owner: str
    due_at: datetime


def follow_up_modal(
    incident_id: str, step_id: str, title: str, time_zone: str, owner: str | None, due: datetime | None
) -> dict[str, Any]:
    zone = ZoneInfo(time_zone)
    local_due = due.astimezone(zone) if due else None
    view = View(
        type="modal",
        callback_id=FOLLOW_UP_CALLBACK,
        private_metadata=f"{incident_id}|{step_id}",
        title=PlainTextObject(text="Follow-up task"),
        submit=PlainTextObject(text="Assign"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            ContextBlock(elements=[MarkdownTextObject(text=f"*{title}* ({incident_id}). Times in {time_zone}.")]),
            InputBlock(
                block_id="owner",
                label=PlainTextObject(text="Owner"),
                element=UserSelectElement(action_id="owner", initial_user=owner),
            ),
            InputBlock(
                block_id="due_date",
                label=PlainTextObject(text="Due date"),
                element=DatePickerElement(
                    action_id="due_date", initial_date=local_due.date().isoformat() if local_due else None
                ),
            ),
            InputBlock(
                block_id="due_time",
                label=PlainTextObject(text="Due time"),
                element=TimePickerElement(
                    action_id="due_time", initial_time=local_due.strftime("%H:%M") if local_due else DEFAULT_DUE_TIME
                ),
            ),
        ],
    )
    return view.to_dict()


def follow_up_submission(view: dict[str, Any], time_zone: str) -> FollowUpSubmission | dict[str, str]:
    """The submission, or ``{block_id: error}`` for Slack to show under the inputs."""
    incident_id, _, step_id = str(view.get("private_metadata") or "").partition("|")
    values = _input_values(view)
    owner = (values.get("owner") or {}).get("selected_user")
    day = (values.get("due_date") or {}).get("selected_date")
    at = (values.get("due_time") or {}).get("selected_time") or DEFAULT_DUE_TIME
    errors: dict[str, str] = {}
    if not owner:
        errors["owner"] = "Choose who owns this task."
    try:
        due = datetime.combine(date.fromisoformat(str(day)), time.fromisoformat(str(at)), ZoneInfo(time_zone))
    except ValueError:
        errors["due_date"] = "Choose a due date."
        return errors
    if errors:
        return errors
    return FollowUpSubmission(incident_id=incident_id, step_id=step_id, owner=str(owner), due_at=due)
