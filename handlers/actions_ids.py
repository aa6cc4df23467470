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
    BACKUP_SELECT = "backup_select"


class StepRef(BaseModel):
    """A button's value: which incident and step it acts on. Encoded as ``<incident>|<step>``."""

    incident_id: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$")
    step_id: str = Field(min_length=1, max_length=200, pattern=r"^[^|]+$")

    def encode(self) -> str:
        return f"{self.incident_id}|{self.step_id}"

    @classmethod
    def decode(cls, value: str) -> StepRef:
        incident_id, sep, step_id = value.partition("|")
        if not sep:
            raise ValueError(f"malformed button value {value!r}")
        return cls(incident_id=incident_id, step_id=step_id)
