"""Business hours in IANA zones, on ordinary days, weekends and DST change days (zoneinfo)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.availability import BusinessHours, is_available, next_available

BERLIN = BusinessHours(start=time(9), end=time(17), tz="Europe/Berlin")
NEW_YORK = BusinessHours(start=time(9), end=time(17), tz="America/New_York")
EVERY_DAY_BERLIN = BusinessHours(
    days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start=time(9), end=time(17), tz="Europe/Berlin"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (BERLIN, utc(2025, 1, 8, 8, 0), True),  # Wed 09:00 CET
        (BERLIN, utc(2025, 1, 8, 7, 59), False),  # 08:59 CET
        (BERLIN, utc(2025, 1, 8, 16, 0), False),  # 17:00 CET: end excluded
        (BERLIN, utc(2025, 1, 8, 2, 0), False),  # 03:00 CET, night
        (NEW_YORK, utc(2025, 1, 8, 2, 0), False),  # Tue 21:00 EST
        (NEW_YORK, utc(2025, 1, 8, 15, 0), True),  # 10:00 EST while Berlin is at 16:00
        (BERLIN, utc(2025, 1, 11, 10, 0), False),  # Saturday
        ("24/7", utc(2025, 1, 11, 3, 0), True),
    ],
)
def test_in_hours_per_zone(hours: BusinessHours | str, at: datetime, expected: bool) -> None:
    assert is_available(hours, at) is expected  # type: ignore[arg-type]


def test_the_same_instant_is_day_in_one_zone_and_night_in_another() -> None:
    at = utc(2025, 1, 8, 16, 30)  # 17:30 in Berlin, 11:30 in New York
    assert is_available(NEW_YORK, at) and not is_available(BERLIN, at)


def test_next_start_after_a_night_and_after_a_weekend() -> None:
    assert next_available(BERLIN, utc(2025, 1, 8, 22, 0)) == utc(2025, 1, 9, 8, 0)
    assert next_available(BERLIN, utc(2025, 1, 10, 16, 30)) == utc(2025, 1, 13, 8, 0)  # Fri after hours -> Mon
    assert next_available(NEW_YORK, utc(2025, 1, 8, 3, 0)) == utc(2025, 1, 8, 14, 0)
    at = utc(2025, 1, 8, 9, 0)
    assert next_available(BERLIN, at) == at  # in hours: now


def test_dst_spring_forward_keeps_the_local_hour() -> None:
    # Berlin goes from CET (+1) to CEST (+2) on Sunday 2025-03-30: 09:00 local is 08:00 UTC the day
    # before and 07:00 UTC that day. Adding 24 h in UTC would page an hour late.
    assert next_available(EVERY_DAY_BERLIN, utc(2025, 3, 29, 20, 0)) == utc(2025, 3, 30, 7, 0)
    assert is_available(EVERY_DAY_BERLIN, utc(2025, 3, 30, 7, 0))
    assert not is_available(EVERY_DAY_BERLIN, utc(2025, 3, 30, 6, 59))
    assert not is_available(EVERY_DAY_BERLIN, utc(2025, 3, 30, 15, 0))  # 17:00 CEST
    # Weekdays only: Friday evening CET -> Monday 09:00 CEST, across the change.
    assert next_available(BERLIN, utc(2025, 3, 28, 17, 0)) == utc(2025, 3, 31, 7, 0)


def test_dst_fall_back_and_new_york() -> None:
    # New York: EDT (-4) -> EST (-5) on Sunday 2025-11-02.
    every_day_ny = NEW_YORK.model_copy(update={"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]})
    assert next_available(every_day_ny, utc(2025, 11, 1, 22, 0)) == utc(2025, 11, 2, 14, 0)
    assert is_available(every_day_ny, utc(2025, 11, 1, 13, 0))  # Sat 09:00 EDT
    assert not is_available(every_day_ny, utc(2025, 11, 2, 13, 30))  # Sun 08:30 EST


def test_a_start_inside_the_spring_forward_gap_means_just_after_it() -> None:
    early = BusinessHours(days=["sun"], start=time(2, 30), end=time(6), tz="Europe/Berlin")
    # 02:30 does not exist on 2025-03-30; 03:30 CEST (01:30 UTC) is the first instant after the gap.
    assert next_available(early, utc(2025, 3, 29, 12, 0)) == utc(2025, 3, 30, 1, 30)
