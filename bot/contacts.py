"""Who to page: the contacts file (roles, people, availability, escalation, severities, channels).

Loaded and validated once at start-up and by ``rollback-bot check-config``: a bad entry is one line
naming it (``roles.devops_lead.availability.tz: unknown time zone 'Mars/Olympus'``), so a typo is
found on deploy, not when nobody gets woken. No file at all is allowed: then nobody is paged, and
every incident says so in its parent message.
"""

from __future__ import annotations

import re
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.availability import Availability, BusinessHours, describe_availability
from bot.domain import Audience, Severity

EXAMPLE_CONTACTS_RESOURCE = "examples/contacts.yaml"
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
ROLE_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
DEFAULT_ACK_TIMEOUT_MINUTES: dict[Severity, float] = {
    Severity.critical: 5,
    Severity.major: 15,
    Severity.minor: 60,
}


class ContactsError(ValueError):
    """A contacts file that cannot be used; one line naming the file and the entry."""


def _availability_tag(value: Any) -> str:
    return "always" if isinstance(value, str) else "hours"


AvailabilityField = Annotated[
    Annotated[Literal["24/7"], Tag("always")] | Annotated[BusinessHours, Tag("hours")],
    Discriminator(_availability_tag),
]


def _user_id(v: str) -> str:
    if not USER_ID.match(v):
        raise ValueError(f"{v!r} is not a Slack user id (U... or W...)")
    return v


class Person(BaseModel):
    """Per-person settings that override the role's: their own hours, their own phone pager."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    availability: AvailabilityField | None = None
    pagerduty_routing_key: str | None = Field(default=None, min_length=1)


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    users: list[str] = Field(default_factory=list)
    usergroup: str | None = None
    availability: AvailabilityField = "24/7"
    # Paged one per escalation round, in this order: backup people first, then whole roles.
    backups: list[str] = Field(default_factory=list)
    escalation: list[str] = Field(default_factory=list)
    pagerduty_routing_key: str | None = Field(default=None, min_length=1)

    @field_validator("users", "backups")
    @classmethod
    def _user_ids(cls, v: list[str]) -> list[str]:
        return [_user_id(u) for u in v]

    @field_validator("usergroup")
    @classmethod
    def _group_id(cls, v: str | None) -> str | None:
        if v is not None and not GROUP_ID.match(v):
            raise ValueError(f"{v!r} is not a Slack user group id (S...)")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> Role:
        if not self.users and not self.usergroup:
            raise ValueError("empty role: give it users and/or a usergroup")
        return self


class SeverityPaging(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: list[str] = Field(default_factory=list)
    ack_timeout_minutes: float | None = Field(default=None, gt=0, le=24 * 60)


class EscalationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rounds: int = Field(default=2, ge=0, le=10)
    # What the one channel-level alert starts with once every round went unanswered.
    channel_alert: str = "<!here>"


class Stakeholders(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[Audience, str] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, v: dict[str, str]) -> dict[str, str]:
        for audience, channel in v.items():
            if not CHANNEL_ID.match(channel):
                raise ValueError(f"{audience}: {channel!r} is not a Slack channel id (C... or G...)")
        return v


class Contacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, Role] = Field(min_length=1)
    people: dict[str, Person] = Field(default_factory=dict)
    severities: dict[Severity, SeverityPaging] = Field(default_factory=dict)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    stakeholders: Stakeholders = Field(default_factory=Stakeholders)

    @field_validator("roles")
    @classmethod
    def _role_ids(cls, v: dict[str, Role]) -> dict[str, Role]:
        for role_id in v:
            if not ROLE_ID.match(role_id):
                raise ValueError(f"role id {role_id!r} must be a lowercase slug (a-z, 0-9, '_', '-')")
        return v

    @field_validator("people")
    @classmethod
    def _people_ids(cls, v: dict[str, Person]) -> dict[str, Person]:
        for user in v:
            _user_id(user)
        return v

    @model_validator(mode="after")
    def _references(self) -> Contacts:
        for sev, paging in self.severities.items():
            for role in paging.roles:
                if role not in self.roles:
                    raise ValueError(f"severities.{sev.value}.roles: unknown role {role!r}")
        for role_id, spec in self.roles.items():
            for other in spec.escalation:
                if other not in self.roles:
                    raise ValueError(f"roles.{role_id}.escalation: unknown role {other!r}")
                if other == role_id:
                    raise ValueError(f"roles.{role_id}.escalation: a role cannot escalate to itself")
        return self

    # -- derived views --------------------------------------------------------------------------------

    def role_name(self, role_id: str) -> str:
        role = self.roles[role_id]
        return role.name or role_id.replace("_", " ").replace("-", " ").capitalize()

    def roles_for(self, severity: Severity | str) -> list[str]:
        paging = self.severities.get(Severity(severity))
        return list(paging.roles) if paging else []

    def ack_timeout_minutes(self, severity: Severity | str) -> float:
        sev = Severity(severity)
        paging = self.severities.get(sev)
        if paging and paging.ack_timeout_minutes is not None:
            return paging.ack_timeout_minutes
        return DEFAULT_ACK_TIMEOUT_MINUTES[sev]

    def availability_of(self, user_id: str, role_id: str | None) -> Availability:
        """The person's own hours if given, else their role's, else 24/7 (e.g. a backup)."""
        person = self.people.get(user_id)
        if person and person.availability is not None:
            return person.availability
        return self.roles[role_id].availability if role_id in self.roles else "24/7"

    def routing_key_of(self, user_id: str, role_id: str | None) -> str | None:
        person = self.people.get(user_id)
        if person and person.pagerduty_routing_key:
            return person.pagerduty_routing_key
        return self.roles[role_id].pagerduty_routing_key if role_id in self.roles else None

    @property
    def uses_pagerduty(self) -> bool:
        return any(r.pagerduty_routing_key for r in self.roles.values()) or any(
            p.pagerduty_routing_key for p in self.people.values()
        )

    def summary(self) -> str:
        """One line for check-config."""
        roles = ", ".join(f"{r} ({describe_availability(self.roles[r].availability)})" for r in self.roles)
        pages = "; ".join(f"{s.value}: {', '.join(self.roles_for(s)) or 'nobody'}" for s in Severity)
        return f"roles {roles}; pages {pages}; audiences {', '.join(self.stakeholders.channels) or 'none'}"


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p not in ("always", "hours"))
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _sexagesimal_times(data: Any) -> Any:
    """YAML 1.1 reads an unquoted ``17:00`` as the integer 1020: turn such values back into times."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if k in ("start", "end") and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:
                out[k] = time(v // 60, v % 60)
            else:
                out[k] = _sexagesimal_times(v)
        return out
    if isinstance(data, list):
        return [_sexagesimal_times(v) for v in data]
    return data


def parse_contacts(text: str, source: str = "<string>") -> Contacts:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContactsError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ContactsError(f"{source}: expected a mapping with 'roles' at the top level")
    try:
        return Contacts.model_validate(_sexagesimal_times(data))
    except ValidationError as exc:
        raise ContactsError(f"{source}: {_describe(exc)}") from None


def load_contacts(path: Path | str | None) -> Contacts | None:
    """The contacts file at ``path``; None (nobody is paged) when no path is configured."""
    if path is None:
        return None
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContactsError(f"{p}: cannot read contacts file: {exc.strerror or exc}") from None
    return parse_contacts(text, source=str(p))


def example_contacts_text() -> str:
    """The packaged example (the checklist's four roles and the stakeholder channels)."""
    return resources.files("bot").joinpath(EXAMPLE_CONTACTS_RESOURCE).read_text(encoding="utf-8")
