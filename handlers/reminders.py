"""Target reminders in the thread: how far into the target, time left or overdue, the current step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain import Incident
from bot.reminders import TargetReminder
from handlers.message import SlackMessage
from handlers.publisher import ThreadPublisher
from handlers.text import fmt_due, mention


def reminder_message(incident: Incident, reminder: TargetReminder, now: datetime) -> SlackMessage:
    icon = ":hourglass_flowing_sand:" if reminder.percent < 100 else ":alarm_clock:"
    head = (
        f"{icon} *{incident.id} is at {reminder.percent}% of its {incident.target_minutes} min target*: "
        f"due {fmt_due(reminder.due_at, now)}."
    )
    current = reminder.current
    if current is None:
        step = "Every checklist step is done or skipped: resolve the incident when you are satisfied."
    elif current.state == "running":
        step = f"Current step: *{current.title}* (running, started by {mention(current.holder)})."
    else:
        who = f"last checklist action by {mention(current.holder)}" if current.holder else "nobody has started"
        step = f"Current step: *{current.title}* ({current.state}; {who})."
    text = f"{head}\n{step}"
    return SlackMessage(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


class SlackReminderSender:
    def __init__(self, publisher: ThreadPublisher, clock: Callable[[], datetime]) -> None:
        self.publisher = publisher
        self.clock = clock

    def remind(self, incident: Incident, reminder: TargetReminder) -> None:
        self.publisher.post_in_thread(incident, reminder_message(incident, reminder, self.clock()))
        self.publisher.refresh_parent(incident.id)  # its "due by" line says the new time left
