"""The kinds of runbook step, as one discriminated union (``RunbookStep``) keyed by ``kind``.

Each kind carries only the fields it needs, so a builder or a listener never has to guess what a
step is from which optional fields happen to be set. A runbook file names the kind (``kind:
agent_op``); files written before kinds existed still load: a step with ``agent_op`` is an
``agent_op`` step, one with ``choice: backup`` a ``backup_choice`` step, anything else ``manual``.

A kind whose ``counts_as_checklist_item`` is False (``option_choice``) is drawn and answered like any
other, but it is no item of the checklist: it has no row in the store, and the progress count and
``Runbook.iter_steps`` leave it out.

To add a kind: a class here with ``kind: Literal["<name>"]``, added to ``RunbookStep`` and
``STEP_KINDS``; then one builder and its listeners in ``handlers/steps/<name>.py``, listed in
``handlers/steps/__init__.py``. ``tests/unit/handlers/test_step_kinds.py`` fails until both exist.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from bot.broken_commands import broken_command_warning
from bot.domain import Audience
from ops.contract import DESTRUCTIVE, OPERATIONS, RESULT_CHECKS

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
MAX_ID_LEN = 60


def check_id(value: str) -> str:
    if len(value) > MAX_ID_LEN:
        raise ValueError(f"id {value!r} is longer than {MAX_ID_LEN} characters")
    if not _ID_RE.match(value):
        raise ValueError(f"id {value!r} must be a lowercase slug (a-z, 0-9, '.', '-', '_')")
    return value


class RunbookCommand(BaseModel):
    """A shell command the checklist prints, as written, and what it really does when that differs.

    ``warning`` is one line for a tired engineer about to copy it (bot/broken_commands.py: a
    known-broken go-fast-cdn command is refused at load without one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str = Field(min_length=1)
    where: str = ""  # e.g. "Linux/macOS", "Windows", "Terminal"
    warning: str | None = None


class CheckRef(BaseModel):
    """``operation:check``, e.g. ``verify:media_absent``: a named check of an agent result."""

    model_config = ConfigDict(frozen=True)

    operation: str
    check: str

    def __str__(self) -> str:
        return f"{self.operation}:{self.check}"


def _parse_check_ref(value: object) -> object:
    if isinstance(value, str):
        op, sep, name = value.partition(":")
        if not sep:
            raise ValueError(f"{value!r}: write a result check as operation:check, e.g. verify:media_absent")
        if name not in RESULT_CHECKS.get(op, ()):
            known = ", ".join(f"{o}:{c}" for o, cs in RESULT_CHECKS.items() for c in cs)
            raise ValueError(f"unknown result check {value!r}; known: {known}")
        return {"operation": op, "check": name}
    return value


class StepBase(BaseModel):
    """What every step has: an id the store keys on, what to do, and nested sub-steps; the
    checklist's commands (with a warning on each that lies), what really does it by hand, and the
    result checks of an agent job in the same section that tick it (``satisfied_by``, all passing)
    or fail it (any of those or of ``failed_by`` failing, with the check's detail)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # False for a control that is no item of the checklist: no store row, not in the progress count.
    counts_as_checklist_item: ClassVar[bool] = True

    id: str
    title: str = Field(min_length=1)
    detail: str = ""
    commands: list[RunbookCommand] = Field(default_factory=list)
    # ``{deployment}`` is the go-fast-cdn folder of the incident's environment (a placeholder if unknown)
    by_hand: list[str] = Field(default_factory=list)
    satisfied_by: list[CheckRef] = Field(default_factory=list)
    failed_by: list[CheckRef] = Field(default_factory=list)
    children: list[RunbookStep] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return check_id(v)

    @field_validator("commands", mode="before")
    @classmethod
    def _plain_commands(cls, v: object) -> object:
        """A bare string is a command with nothing to add."""
        return [{"run": c} if isinstance(c, str) else c for c in v] if isinstance(v, list) else v

    @field_validator("satisfied_by", "failed_by", mode="before")
    @classmethod
    def _check_refs(cls, v: object) -> object:
        return [_parse_check_ref(c) for c in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _broken_commands_carry_a_warning(self) -> StepBase:
        for cmd in self.commands:
            known = broken_command_warning(cmd.run)
            if known is not None and not (cmd.warning or "").strip():
                raise ValueError(
                    f"step {self.id!r}: {cmd.run!r} is a known-broken go-fast-cdn command ({known}); "
                    "give it a 'warning' saying what it really does"
                )
        return self


class ManualStep(StepBase):
    """A person does it and marks it Done or Skip."""

    kind: Literal["manual"] = "manual"

    @model_validator(mode="before")
    @classmethod
    def _agent_fields_need_agent_op(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("agent_args" in data or "agent_args_from" in data):
            raise ValueError(f"step {data.get('id')!r}: agent_args/agent_args_from given without agent_op")
        return data


class AgentOpStep(StepBase):
    """The host agent can do it (Run / Retry); the result settles the step."""

    kind: Literal["agent_op"] = "agent_op"
    agent_op: str
    agent_args: dict[str, Any] = Field(default_factory=dict)
    # Arguments filled from the incident at run time, e.g. "chosen_backup" -> args["backup"].
    agent_args_from: Literal["chosen_backup"] | None = None
    # The sentence shown before a destructive operation runs: exactly what will happen.
    confirm: str | None = None

    @field_validator("agent_op")
    @classmethod
    def _known_op(cls, v: str) -> str:
        if v not in OPERATIONS:
            raise ValueError(f"unknown agent operation {v!r}; known: {', '.join(OPERATIONS)}")
        return v

    @model_validator(mode="after")
    def _destructive_needs_confirm(self) -> AgentOpStep:
        if self.agent_op in DESTRUCTIVE and not (self.confirm or "").strip():
            raise ValueError(f"step {self.id!r}: agent_op {self.agent_op!r} needs a 'confirm' sentence")
        return self

    @property
    def destructive(self) -> bool:
        return self.agent_op in DESTRUCTIVE

    @property
    def uses_chosen_backup(self) -> bool:
        return self.agent_args_from == "chosen_backup"


class BackupChoiceStep(StepBase):
    """A person picks the backup that the restore steps will use; picking it completes the step."""

    kind: Literal["backup_choice"] = "backup_choice"

    @model_validator(mode="before")
    @classmethod
    def _legacy_choice_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("choice") == "backup":  # the file format before kinds
            data = {k: v for k, v in data.items() if k != "choice"}
        return data


class PageContactsStep(StepBase):
    """The bot pages the contacts the severity names when the incident opens; the step completes
    itself once pages went out, noting who was paged (Done / Skip stay for a team without a
    contacts file)."""

    kind: Literal["page_contacts"] = "page_contacts"


class StakeholderNoticeStep(StepBase):
    """The stakeholder notice. Without ``audience`` the step carries the button that opens the
    notice; with one it completes when a sent notice reached that audience's channel."""

    kind: Literal["stakeholder_notice"] = "stakeholder_notice"
    audience: Audience | None = None


class OptionChoiceStep(StepBase):
    """Choosing this section's rollback option ("Choose option N"); it leads its option section.

    Its state is the incident's chosen option, so it is no checklist item. A section written as
    ``option: N`` without this step gets it implied (``RunbookSection``); its title defaults to the
    section's ``option_label``."""

    counts_as_checklist_item: ClassVar[bool] = False

    kind: Literal["option_choice"] = "option_choice"
    option: int = Field(ge=1, le=99)

    @model_validator(mode="after")
    def _nothing_to_tick(self) -> OptionChoiceStep:
        extra = [
            name for name in ("commands", "by_hand", "satisfied_by", "failed_by", "children") if getattr(self, name)
        ]
        if extra:
            raise ValueError(f"step {self.id!r}: an option_choice step has no {', '.join(extra)}")
        return self


class FollowUpStep(StepBase):
    """A task for after the incident: it gets an owner and a due date, a reminder when due, and stays
    open to clicks after the incident is closed (bot/follow_ups.py)."""

    kind: Literal["follow_up"] = "follow_up"


def _kind_of(value: Any) -> str:
    """The tag of a step given as a mapping (runbook file) or as a model."""
    if isinstance(value, dict):
        if "kind" in value:
            return str(value["kind"])
        if "agent_op" in value:
            return "agent_op"
        if value.get("choice") == "backup":
            return "backup_choice"
        return "manual"
    return str(getattr(value, "kind", "manual"))


RunbookStep = Annotated[
    Annotated[ManualStep, Tag("manual")]
    | Annotated[AgentOpStep, Tag("agent_op")]
    | Annotated[BackupChoiceStep, Tag("backup_choice")]
    | Annotated[PageContactsStep, Tag("page_contacts")]
    | Annotated[StakeholderNoticeStep, Tag("stakeholder_notice")]
    | Annotated[OptionChoiceStep, Tag("option_choice")]
    | Annotated[FollowUpStep, Tag("follow_up")],
    Discriminator(_kind_of),
]
StepKind = Literal[
    "manual", "agent_op", "backup_choice", "page_contacts", "stakeholder_notice", "option_choice", "follow_up"
]
STEP_KINDS: tuple[str, ...] = get_args(StepKind)

for _model in (
    ManualStep,
    AgentOpStep,
    BackupChoiceStep,
    PageContactsStep,
    StakeholderNoticeStep,
    OptionChoiceStep,
    FollowUpStep,
):
    _model.model_rebuild()
