"""What the listeners need, built once by the composition root (app/factory.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: listener modules import this, and the publisher imports the builders
    from bot.follow_ups import FollowUpService
    from bot.incidents import IncidentService
    from bot.jobs import JobRunner
    from bot.paging import PagingService
    from bot.reminders import ReminderService
    from bot.runbook import Runbook
    from handlers.notes_publisher import NotesPublisher
    from handlers.publisher import ThreadPublisher
    from handlers.record_publisher import RecordPublisher


@dataclass(frozen=True)
class HandlerDeps:
    environments: list[str]
    default_environment: str
    service: IncidentService
    runbook: Runbook
    publisher: ThreadPublisher
    runner: JobRunner
    paging: PagingService
    reminders: ReminderService
    notes: NotesPublisher
    records: RecordPublisher
    follow_ups: FollowUpService
    time_zone: str
