"""The common shape of every operation result.

``outcome`` is what the bot turns into a step state: ``ok`` (done), ``failed`` (a check or an
action failed; details in the result), ``noop`` (nothing to do: its own outcome, never shown as
success), ``inconclusive`` (a check could not be made, e.g. verify with no baseline: neither a pass
nor a failure, so it never triggers a fallback). Refusals and bad input are exceptions
(ops.errors), not results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

Outcome = Literal["ok", "failed", "noop", "inconclusive"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class OpResult(BaseModel):
    operation: str
    outcome: Outcome
    summary: str
    warnings: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)


class Check(BaseModel):
    """One pass/fail line of a verification."""

    name: str
    passed: bool
    detail: str = ""
    inconclusive: bool = False  # could not be made (passed is then False, but nothing failed either)
