"""What the listeners need, built once by bot.app.create_app."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents import IncidentService
from bot.jobs import JobRunner
from bot.paging import PagingService
from bot.permissions import OperatorPolicy
from bot.reminders import ReminderService
from bot.runbook import Runbook
from bot.settings import Settings
from handlers.publisher import ThreadPublisher


@dataclass(frozen=True)
class HandlerDeps:
    settings: Settings
    service: IncidentService
    runbook: Runbook
    publisher: ThreadPublisher
    runner: JobRunner
    operators: OperatorPolicy
    paging: PagingService
    reminders: ReminderService
