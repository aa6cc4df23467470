"""What the listeners need, built once by the composition root (app/factory.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: listener modules import this, and the publisher imports the builders
    from bot.incidents import IncidentService
    from bot.jobs import JobRunner
    from bot.paging import PagingService
    from bot.reminders import ReminderService
    from bot.runbook import Runbook
    from handlers.publisher import ThreadPublisher


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
