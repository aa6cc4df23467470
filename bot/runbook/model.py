"""The runbook as data: sections, steps and sub-steps loaded from YAML.

The seed checklist (runbooks/EMERGENCY_ROLLBACK_CHECKLIST.md) lives in bot/runbook/default.yaml so
a team can point the bot at its own file without touching code. Each step is of a kind (steps.py):
manual, done by the host agent (``agent_op``, with ``confirm`` before anything destructive), or a choice
(of a backup; of the rollback option, which leads an option section and is no checklist item).
Loading validates everything up front so a bad file fails at start-up, not mid-incident.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.runbook.steps import (
    STEP_KINDS,
    AgentOpStep,
    BackupChoiceStep,
    FollowUpStep,
    OptionChoiceStep,
    PageContactsStep,
    RunbookStep,
    StakeholderNoticeStep,
    check_id,
)

DEFAULT_RUNBOOK_RESOURCE = "default.yaml"


class RunbookError(ValueError):
    """A runbook file that cannot be used; the message names the file and the offending field."""


class RunbookSection(BaseModel):
    """A heading of the checklist and its steps. An option section (one of the alternative rollback
    procedures) is the one led by an ``option_choice`` step; its number is that step's ``option``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    option_label: str | None = None
    steps: list[RunbookStep] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return check_id(v)

    @model_validator(mode="before")
    @classmethod
    def _option_choice_step(cls, data: Any) -> Any:
        """``option: N`` on the section (the file format before the option_choice kind) implies the
        step ``<section>.choose-option``; an option_choice step written without a title takes the
        section's ``option_label``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        option = data.pop("option", None)
        steps = list(data.get("steps") or [])
        written = [s for s in steps if isinstance(s, dict) and s.get("kind") == "option_choice"]
        if option is not None and not written and not any(isinstance(s, OptionChoiceStep) for s in steps):
            step = {"id": f"{data.get('id')}.choose-option", "kind": "option_choice", "option": option}
            steps.insert(0, step)
            written = [step]
        elif option is not None and any(s.get("option") != option for s in written):
            raise ValueError(f"section {data.get('id')!r}: option {option} differs from its option_choice step")
        for i, s in enumerate(steps):
            if any(s is w for w in written) and "title" not in s:
                steps[i] = {**s, "title": data.get("option_label") or "this path"}
        if "steps" in data or steps:
            data["steps"] = steps
        return data

    @model_validator(mode="after")
    def _option_choice_leads(self) -> RunbookSection:
        choices = [(step, depth) for step, depth in self.walk() if isinstance(step, OptionChoiceStep)]
        if choices and (len(choices) > 1 or choices[0][1] != 0 or self.steps[0] is not choices[0][0]):
            raise ValueError(f"section {self.id!r}: one option_choice step at most, and only as its first step")
        return self

    @property
    def option_step(self) -> OptionChoiceStep | None:
        """The step that chooses this section's option, if it is an option section."""
        first = self.steps[0] if self.steps else None
        return first if isinstance(first, OptionChoiceStep) else None

    @property
    def option(self) -> int | None:
        """The rollback option this section is (None for the other sections)."""
        step = self.option_step
        return step.option if step is not None else None

    def walk(self) -> Iterator[tuple[RunbookStep, int]]:
        """Pre-order walk over every step, checklist item or not: each step, then its children."""

        def walk(steps: list[RunbookStep], depth: int) -> Iterator[tuple[RunbookStep, int]]:
            for s in steps:
                yield s, depth
                yield from walk(s.children, depth + 1)

        return walk(self.steps, 0)

    def iter_steps(self) -> Iterator[tuple[RunbookStep, int]]:
        """The checklist items in pre-order (depth 0 for top-level steps): what has a state and counts."""
        return ((s, depth) for s, depth in self.walk() if s.counts_as_checklist_item)


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
        for step, _ in (walked for section in self.sections for walked in section.walk()):
            if step.id in step_ids:
                raise ValueError(f"duplicate step id {step.id!r}")
            step_ids.add(step.id)
        options = [s.option for s in self.sections if s.option is not None]
        if len(options) != len(set(options)):
            raise ValueError(f"duplicate option numbers {options}")
        return self

    def iter_steps(self) -> Iterator[tuple[RunbookSection, RunbookStep, int]]:
        """Every checklist item in document order (pre-order): (section, step, depth)."""
        for section in self.sections:
            for step, depth in section.iter_steps():
                yield section, step, depth

    def step_ids(self) -> list[str]:
        """The checklist items' ids: an incident's rows in the store, its progress total."""
        return [step.id for _, step, _ in self.iter_steps()]

    def step(self, step_id: str) -> RunbookStep:
        for _, step, _ in self.iter_steps():
            if step.id == step_id:
                return step
        raise KeyError(f"unknown runbook step {step_id!r}")

    def agent_step(self, step_id: str) -> AgentOpStep | None:
        """The step if the host agent can do it, else None."""
        step = self.step(step_id)
        return step if isinstance(step, AgentOpStep) else None

    def follow_up_steps(self) -> list[FollowUpStep]:
        """The tasks for after the incident (owner, due date, reminder)."""
        return [step for _, step, _ in self.iter_steps() if isinstance(step, FollowUpStep)]

    def backup_choice_steps(self) -> list[BackupChoiceStep]:
        """The steps that choosing a backup completes."""
        return [step for _, step, _ in self.iter_steps() if isinstance(step, BackupChoiceStep)]

    def page_contacts_steps(self) -> list[PageContactsStep]:
        """The steps the bot completes when the pages go out."""
        return [step for _, step, _ in self.iter_steps() if isinstance(step, PageContactsStep)]

    def notice_steps(self) -> list[StakeholderNoticeStep]:
        """The stakeholder-notice steps: the one with the button, and one per audience."""
        return [step for _, step, _ in self.iter_steps() if isinstance(step, StakeholderNoticeStep)]

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
        # drop the step-kind tag pydantic puts in the path (steps.0.manual.id -> steps.0.id)
        path = e["loc"]
        kept = [p for i, p in enumerate(path) if not (p in STEP_KINDS and i and isinstance(path[i - 1], int))]
        loc = ".".join(str(p) for p in kept) or "(top level)"
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
    """Load a runbook file, or the packaged default (bot/runbook/default.yaml) when ``path`` is None."""
    if path is None:
        res = resources.files("bot.runbook").joinpath(DEFAULT_RUNBOOK_RESOURCE)
        return parse_runbook(res.read_text(encoding="utf-8"), source=f"bot/runbook/{DEFAULT_RUNBOOK_RESOURCE}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunbookError(f"{p}: cannot read runbook: {exc}") from exc
    return parse_runbook(text, source=str(p))
