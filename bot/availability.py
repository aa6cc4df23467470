"""When a contact may be paged: ``24/7``, or business hours in an IANA time zone.

Pure functions over aware datetimes, computed in the contact's own zone with :mod:`zoneinfo`, so a
DST change moves the UTC instant of "09:00" and never the local hour. A start time that falls in a
spring-forward gap (02:30 on the change night) is read as the first instant after the gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    """An IANA zone, or ValueError naming the bad one (``ZoneInfoNotFoundError`` is a KeyError)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class BusinessHours(BaseModel):
    """Paged only on ``days`` between ``start`` and ``end`` (end excluded), local to ``tz``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    start: time
    end: time
    tz: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _short_hour(cls, v: object) -> object:
        """Accept ``9:00`` as well as ``09:00``."""
        if isinstance(v, str) and len(v.split(":")[0]) == 1:
            return "0" + v
        return v

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        zone(v)
        return v

    @model_validator(mode="after")
    def _end_after_start(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} is not after start {self.start:%H:%M}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    def describe(self) -> str:
        days = ",".join(d.capitalize() for d in self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


Availability = Literal["24/7"] | BusinessHours


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return at.astimezone(tz)


def _wall(day: date, t: time, tz: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``t`` in ``tz`` as a UTC instant (a time in a DST gap moves past the gap)."""
    naive = datetime.combine(day, t)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def is_available(availability: Availability, at: datetime) -> bool:
    if availability == "24/7":
        return True
    assert isinstance(availability, BusinessHours)
    local = _local(at, availability.zone)
    if WEEKDAYS[local.weekday()] not in availability.days:
        return False
    start = _wall(local.date(), availability.start, availability.zone)
    end = _wall(local.date(), availability.end, availability.zone)
    return start <= at.astimezone(UTC) < end


def next_available(availability: Availability, at: datetime) -> datetime:
    """``at`` itself when available, else the next start of hours (UTC)."""
    if is_available(availability, at):
        return at.astimezone(UTC)
    assert isinstance(availability, BusinessHours)
    tz = availability.zone
    day = _local(at, tz).date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if WEEKDAYS[candidate_day.weekday()] not in availability.days:
            continue
        start = _wall(candidate_day, availability.start, tz)
        if start > at.astimezone(UTC):
            return start
    raise AssertionError("a week always holds a start of hours")  # days is non-empty


def describe_availability(availability: Availability) -> str:
    return availability.describe() if isinstance(availability, BusinessHours) else "24/7"
