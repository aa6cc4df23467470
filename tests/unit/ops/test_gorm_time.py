from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ops.gorm_time import compare, format_gorm_time, gorm_now, parse_datetime, parse_gorm_time, to_ns


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2025-07-30 05:20:24.70958194+00:00", 709581940),  # 8 digits (trailing zero trimmed)
        ("2025-07-30 05:20:24.7095819+00:00", 709581900),  # 7 digits
        ("2025-07-30 05:20:24.709581943+00:00", 709581943),  # 9 digits
    ],
)
def test_fraction_digits(text: str, ns: int) -> None:
    t = parse_gorm_time(text)
    assert t.nanosecond == ns
    assert t.dt == datetime(2025, 7, 30, 5, 20, 24, ns // 1000, tzinfo=UTC)
    assert format_gorm_time(t.dt, t.nanosecond) == text


def test_offsets_compare_as_instants_not_strings() -> None:
    a = "2025-07-30 07:20:24.7095819+02:00"  # == 05:20:24.7095819Z
    b = "2025-07-30 05:20:24.709581901+00:00"
    assert a > b  # as strings: wrong answer
    assert compare(a, b) == -1
    assert to_ns(b) - to_ns(a) == 1
    assert parse_gorm_time("2025-07-30 01:20:24.5-04:00").dt == datetime(2025, 7, 30, 5, 20, 24, 500000, tzinfo=UTC)
    assert parse_gorm_time("2025-07-30 01:20:24.5-04:00").dt.utcoffset() == timedelta(hours=-4)


def test_format_trims_zeros_and_keeps_offset() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    assert format_gorm_time(datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=tz)) == "2025-01-02 03:04:05.12+05:30"
    assert format_gorm_time(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02 03:04:05+00:00"
    with pytest.raises(ValueError):
        format_gorm_time(datetime(2025, 1, 2, tzinfo=UTC), nanosecond=5_000)


def test_rejects_garbage_and_lenient_helper() -> None:
    with pytest.raises(ValueError):
        parse_gorm_time("yesterday")
    assert parse_datetime(None) is None
    assert parse_datetime("nope") is None


def test_now_roundtrips() -> None:
    s = gorm_now(local=True)
    t = parse_gorm_time(s)
    assert format_gorm_time(t.dt, t.nanosecond) == s
    assert abs((t.dt - datetime.now(UTC)).total_seconds()) < 5
