"""The runbook as data: sections of steps, each step one of a few kinds (steps.py), loaded from YAML."""

from bot.runbook.model import (
    DEFAULT_RUNBOOK_RESOURCE,
    Runbook,
    RunbookError,
    RunbookSection,
    load_runbook,
    parse_runbook,
)
from bot.runbook.steps import (
    STEP_KINDS,
    AgentOpStep,
    BackupChoiceStep,
    FollowUpStep,
    ManualStep,
    OptionChoiceStep,
    PageContactsStep,
    RunbookStep,
    StakeholderNoticeStep,
    StepKind,
)

__all__ = [
    "DEFAULT_RUNBOOK_RESOURCE",
    "STEP_KINDS",
    "AgentOpStep",
    "BackupChoiceStep",
    "FollowUpStep",
    "ManualStep",
    "OptionChoiceStep",
    "PageContactsStep",
    "Runbook",
    "RunbookError",
    "RunbookSection",
    "RunbookStep",
    "StakeholderNoticeStep",
    "StepKind",
    "load_runbook",
    "parse_runbook",
]
