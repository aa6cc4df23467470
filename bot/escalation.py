"""The paging and escalation policy: pure functions of the contacts, a round and the time.

Round 0 pages a role's people; a person outside their business hours gets a deferred page at
their next start of hours instead. Each later round (after the severity's ack timeout passed with
no acknowledgement) re-pages the role's people who are in hours and adds the next entry of the
role's chain: its backups one by one, then the people of its escalation roles. After the last
round the policy says "alert the channel". Nothing here has side effects or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.availability import BusinessHours, is_available, next_available
from bot.contacts import Contacts
from bot.domain import Severity

GroupMembers = Callable[[str], list[str]]


class PageTarget(BaseModel):
    """One person to page for a role in a round, now or (``deferred``) at ``at``."""

    model_config = ConfigDict(frozen=True)

    role: str
    user: str
    round: int
    at: datetime
    deferred: bool = False
    tz: str | None = None  # the person's zone when their hours decide the time

    def key(self, incident_id: str) -> str:
        """The page's unique key: a person is paged at most once per incident, role and round."""
        return f"{incident_id}|{self.role}|{self.user}|{self.round}"


class RoundPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    round: int
    now: list[PageTarget]
    deferred: list[PageTarget]
    skipped: list[PageTarget]  # out of hours in an escalation round: not paged, not deferred


def people_of(contacts: Contacts, role_id: str, group_members: GroupMembers) -> list[str]:
    """The role's user ids, then its user group's current members, each once."""
    role = contacts.roles[role_id]
    people = list(role.users)
    if role.usergroup:
        people.extend(group_members(role.usergroup))
    return list(dict.fromkeys(people))


def chain(contacts: Contacts, role_id: str) -> list[tuple[Literal["user", "role"], str]]:
    """Escalation entries in order: ("user", id) for each backup, then ("role", id) per escalation role."""
    role = contacts.roles[role_id]
    users: list[tuple[Literal["user", "role"], str]] = [("user", u) for u in role.backups]
    return users + [("role", r) for r in role.escalation]


def round_plan(
    contacts: Contacts, role_id: str, round_no: int, now: datetime, group_members: GroupMembers
) -> RoundPlan:
    people: list[tuple[str, str | None]] = [(u, role_id) for u in people_of(contacts, role_id, group_members)]
    if round_no > 0:
        entries = chain(contacts, role_id)
        if round_no <= len(entries):
            kind, ref = entries[round_no - 1]
            if kind == "user":
                people.append((ref, None))
            else:
                people.extend((u, ref) for u in people_of(contacts, ref, group_members))
    seen: set[str] = set()
    now_targets: list[PageTarget] = []
    deferred: list[PageTarget] = []
    skipped: list[PageTarget] = []
    for user, hours_role in people:
        if user in seen:
            continue
        seen.add(user)
        availability = contacts.availability_of(user, hours_role)
        tz = availability.tz if isinstance(availability, BusinessHours) else None
        if is_available(availability, now):
            now_targets.append(PageTarget(role=role_id, user=user, round=round_no, at=now, tz=tz))
            continue
        later = PageTarget(
            role=role_id, user=user, round=round_no, at=next_available(availability, now), deferred=True, tz=tz
        )
        (deferred if round_no == 0 else skipped).append(later)
    return RoundPlan(role=role_id, round=round_no, now=now_targets, deferred=deferred, skipped=skipped)


def ack_deadline(contacts: Contacts, severity: Severity | str, since: datetime) -> datetime:
    return since + timedelta(minutes=contacts.ack_timeout_minutes(severity))


def after_timeout(contacts: Contacts, round_no: int) -> Literal["escalate", "alert"]:
    """What an unacknowledged role's timeout at ``round_no`` leads to."""
    return "escalate" if round_no < contacts.escalation.rounds else "alert"
