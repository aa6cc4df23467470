"""The action ids and button values the bot puts in its messages and reads back from clicks."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ActionId(StrEnum):
    STEP_DONE = "step_done"
    STEP_SKIP = "step_skip"
    STEP_UNDO = "step_undo"
    OPTION_CHOOSE = "option_choose"
    STEP_RUN = "step_run"
    STEP_RETRY = "step_retry"
    STEP_RETRY_ASSERT_STOPPED = "step_retry_assert_stopped"
    JOURNAL_RECOVER = "journal_recover"
    JOURNAL_RECOVER_ASSERT_STOPPED = "journal_recover_assert_stopped"
    BACKUP_SELECT = "backup_select"
    INCIDENT_RESOLVE = "incident_resolve"
    INCIDENT_CANCEL = "incident_cancel"
    INCIDENT_REOPEN = "incident_reopen"
    FOLLOW_UP_ASSIGN = "follow_up_assign"
    FOLLOW_UP_DONE = "follow_up_done"
    PAGE_ACK = "page_ack"
    NOTICE_OPEN = "notice_open"


# Clicks answered with a dialog (``views.open``): the click's trigger_id expires 3 s after it, so
# these go ahead of the other clicks waiting after an early ack (app/ack_gate.py).
OPENS_DIALOG: frozenset[ActionId] = frozenset(
    {ActionId.INCIDENT_RESOLVE, ActionId.FOLLOW_UP_ASSIGN, ActionId.NOTICE_OPEN}
)


class RoleRef(BaseModel):
    """An Acknowledge button's value (in a page DM or in the thread): ``<incident>|<role>``."""

    incident_id: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$")
    role: str = Field(min_length=1, max_length=100, pattern=r"^[^|]+$")

    def encode(self) -> str:
        return f"{self.incident_id}|{self.role}"

    @classmethod
    def decode(cls, value: str) -> RoleRef:
        incident_id, sep, role = value.partition("|")
        if not sep:
            raise ValueError(f"malformed button value {value!r}")
        return cls(incident_id=incident_id, role=role)


class StepRef(BaseModel):
    """A button's value: which incident and step it acts on, and optionally what the person saw
    when they confirmed (the backup a restore will use). Encoded as ``<incident>|<step>[|<arg>]``."""

    incident_id: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$")
    step_id: str = Field(min_length=1, max_length=200, pattern=r"^[^|]+$")
    arg: str | None = Field(default=None, min_length=1, max_length=1000)

    def encode(self) -> str:
        base = f"{self.incident_id}|{self.step_id}"
        return base if self.arg is None else f"{base}|{self.arg}"

    @classmethod
    def decode(cls, value: str) -> StepRef:
        parts = value.split("|", 2)
        if len(parts) < 2:
            raise ValueError(f"malformed button value {value!r}")
        return cls(incident_id=parts[0], step_id=parts[1], arg=parts[2] if len(parts) == 3 else None)


class OptionRef(BaseModel):
    """A "Choose option N" button's value: which incident, which option. Encoded
    ``<incident>|option:<N>`` (the form buttons already posted in Slack carry)."""

    incident_id: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$")
    option: int = Field(ge=1, le=99)

    def encode(self) -> str:
        return f"{self.incident_id}|option:{self.option}"

    @classmethod
    def decode(cls, value: str) -> OptionRef:
        incident_id, _, rest = value.partition("|")
        number = rest.removeprefix("option:")
        if not rest.startswith("option:") or not number.isdigit():
            raise ValueError(f"malformed option value {value!r}")
        return cls(incident_id=incident_id, option=int(number))
