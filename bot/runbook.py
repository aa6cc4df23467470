"""The runbook as data: sections, steps and sub-steps loaded from YAML.

The seed checklist (runbooks/EMERGENCY_ROLLBACK_CHECKLIST.md) lives in bot/runbooks/default.yaml so
a team can point the bot at its own file without touching code. The file also says which steps the
host agent can do (``agent_op``) and which of those need a human to confirm first (``confirm``).
Loading validates everything up front so a bad file fails at start-up, not mid-incident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ops.contract import DESTRUCTIVE, OPERATIONS

DEFAULT_RUNBOOK_RESOURCE = "runbooks/default.yaml"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
MAX_ID_LEN = 60


class RunbookError(ValueError):
    """A runbook file that cannot be used; the message names the file and the offending field."""


def _check_id(value: str) -> str:
    if len(value) > MAX_ID_LEN:
        raise ValueError(f"id {value!r} is longer than {MAX_ID_LEN} characters")
    if not _ID_RE.match(value):
        raise ValueError(f"id {value!r} must be a lowercase slug (a-z, 0-9, '.', '-', '_')")
    return value


class RunbookStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    detail: str = ""
    commands: list[str] = Field(default_factory=list)
    children: list[RunbookStep] = Field(default_factory=list)
    agent_op: str | None = None
    agent_args: dict[str, Any] = Field(default_factory=dict)
    # Arguments filled from the incident at run time, e.g. "chosen_backup" -> args["backup"].
    agent_args_from: Literal["chosen_backup"] | None = None
    # The sentence shown before a destructive operation runs: exactly what will happen.
    confirm: str | None = None
    # A choice a human makes at this step (the Slack layer renders a picker), e.g. "backup".
    choice: Literal["backup"] | None = None
    # Done by the bot when this happens: the pages went out, or the stakeholder notice was sent
    # (to ``audience``'s channel, for a notify step).
    completed_by: Literal["pages_sent", "stakeholder_notice"] | None = None
    audience: Literal["development_team", "qa", "customer_support", "end_users"] | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return _check_id(v)

    @field_validator("agent_op")
    @classmethod
    def _known_op(cls, v: str | None) -> str | None:
        if v is not None and v not in OPERATIONS:
            raise ValueError(f"unknown agent operation {v!r}; known: {', '.join(OPERATIONS)}")
        return v

    @model_validator(mode="after")
    def _destructive_needs_confirm(self) -> RunbookStep:
        if self.agent_op in DESTRUCTIVE and not (self.confirm or "").strip():
            raise ValueError(f"step {self.id!r}: agent_op {self.agent_op!r} needs a 'confirm' sentence")
        if self.audience is not None and self.completed_by != "stakeholder_notice":
            raise ValueError(f"step {self.id!r}: audience is only for completed_by: stakeholder_notice")
        if (self.agent_args or self.agent_args_from) and self.agent_op is None:
            raise ValueError(f"step {self.id!r}: agent_args/agent_args_from given without agent_op")
        return self


class RunbookSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    option: int | None = None
    option_label: str | None = None
    steps: list[RunbookStep] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return _check_id(v)

    def iter_steps(self) -> Iterator[tuple[RunbookStep, int]]:
        """Pre-order walk: each step, then its children; depth 0 for top-level steps."""

        def walk(steps: list[RunbookStep], depth: int) -> Iterator[tuple[RunbookStep, int]]:
            for s in steps:
                yield s, depth
                yield from walk(s.children, depth + 1)

        return walk(self.steps, 0)


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "runbook"
    version: int = 1
    sections: list[RunbookSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Runbook:
        seen: set[str] = set()
        for section in self.sections:
            if section.id in seen:
                raise ValueError(f"duplicate section id {section.id!r}")
            seen.add(section.id)
        step_ids: set[str] = set()
        for _, step, _ in self.iter_steps():
            if step.id in step_ids:
                raise ValueError(f"duplicate step id {step.id!r}")
            step_ids.add(step.id)
        options = [s.option for s in self.sections if s.option is not None]
        if len(options) != len(set(options)):
            raise ValueError(f"duplicate option numbers {options}")
        return self

    def iter_steps(self) -> Iterator[tuple[RunbookSection, RunbookStep, int]]:
        """Every step in document order (pre-order): (section, step, depth)."""
        for section in self.sections:
            for step, depth in section.iter_steps():
                yield section, step, depth

    def step_ids(self) -> list[str]:
        return [step.id for _, step, _ in self.iter_steps()]

    def step(self, step_id: str) -> RunbookStep:
        for _, step, _ in self.iter_steps():
            if step.id == step_id:
                return step
        raise KeyError(f"unknown runbook step {step_id!r}")

    def steps_completed_by(self, event: str) -> list[str]:
        """Ids of the steps the bot completes itself when ``event`` happens."""
        return [step.id for _, step, _ in self.iter_steps() if step.completed_by == event]

    def section_of(self, step_id: str) -> RunbookSection:
        for section, step, _ in self.iter_steps():
            if step.id == step_id:
                return section
        raise KeyError(f"unknown runbook step {step_id!r}")

    def section(self, section_id: str) -> RunbookSection:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"unknown runbook section {section_id!r}")

    def options(self) -> list[RunbookSection]:
        """The alternative rollback procedures, by option number."""
        return sorted((s for s in self.sections if s.option is not None), key=lambda s: s.option or 0)

    def option(self, number: int) -> RunbookSection:
        for section in self.sections:
            if section.option == number:
                return section
        raise KeyError(f"unknown runbook option {number}")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_runbook(text: str, source: str = "<string>") -> Runbook:
    """Parse and validate runbook YAML; every problem becomes a RunbookError naming ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RunbookError(f"{source}: expected a mapping with 'sections' at the top level")
    try:
        return Runbook.model_validate(data)
    except ValidationError as exc:
        raise RunbookError(f"{source}: invalid runbook: {_describe(exc)}") from exc


def load_runbook(path: Path | str | None = None) -> Runbook:
    """Load a runbook file, or the packaged default (bot/runbooks/default.yaml) when ``path`` is None."""
    if path is None:
        res = resources.files("bot").joinpath(DEFAULT_RUNBOOK_RESOURCE)
        return parse_runbook(res.read_text(encoding="utf-8"), source=f"bot/{DEFAULT_RUNBOOK_RESOURCE}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunbookError(f"{p}: cannot read runbook: {exc}") from exc
    return parse_runbook(text, source=str(p))
