"""What the listeners need, built once by bot.app.create_app."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents import IncidentService
from bot.jobs import JobRunner
from bot.permissions import OperatorPolicy
from bot.runbook import Runbook
from bot.settings import Settings
from handlers.notes_publisher import NotesPublisher
from handlers.publisher import ThreadPublisher
from handlers.record_publisher import RecordPublisher


@dataclass(frozen=True)
class HandlerDeps:
    settings: Settings
    service: IncidentService
    runbook: Runbook
    publisher: ThreadPublisher
    runner: JobRunner
    operators: OperatorPolicy
    notes: NotesPublisher
    records: RecordPublisher
