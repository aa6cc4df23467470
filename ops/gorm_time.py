"""GORM datetime text as go-fast-cdn stores it, parsed exactly.

GORM writes ``YYYY-MM-DD HH:MM:SS.fffffffff+00:00`` with the nanoseconds' trailing zeros trimmed
(Go's ``.999999999`` layout), so the text has 0-9 fraction digits and any numeric offset. Such
strings don't sort correctly as text (different lengths, different offsets), so every comparison
goes through :func:`to_ns` (exact epoch nanoseconds). Python's ``datetime`` keeps microseconds
only; :class:`GormTime` carries the extra digits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=False)
class GormTime:
    """A parsed GORM timestamp: an aware ``datetime`` (microseconds) plus the full nanoseconds."""

    dt: datetime
    nanosecond: int  # 0..999_999_999, the exact fraction of the second

    @property
    def epoch_ns(self) -> int:
        whole = self.dt.replace(microsecond=0)
        return int((whole - _EPOCH).total_seconds()) * 1_000_000_000 + self.nanosecond


def parse_gorm_time(text: str) -> GormTime:
    """Parse GORM datetime text; ``ValueError`` on anything else (no offset is taken as UTC)."""
    m = _RE.match(text.strip())
    if not m:
        raise ValueError(f"not a GORM datetime: {text!r}")
    y, mo, d, h, mi, s, frac, off = m.groups()
    nanos = int((frac or "").ljust(9, "0")) if frac else 0
    tz: timezone = UTC
    if off and off != "Z":
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), nanos // 1000, tzinfo=tz)
    return GormTime(dt=dt, nanosecond=nanos)


def parse_datetime(text: str | None) -> datetime | None:
    """Lenient variant for report fields: ``None``/unparseable text gives ``None``."""
    if text is None:
        return None
    try:
        return parse_gorm_time(str(text)).dt
    except ValueError:
        return None


def to_ns(text: str) -> int:
    """Exact epoch nanoseconds of GORM datetime text (the only safe way to compare two of them)."""
    return parse_gorm_time(text).epoch_ns


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 like ``cmp(a, b)``, comparing instants, never strings."""
    na, nb = to_ns(a), to_ns(b)
    return (na > nb) - (na < nb)


def format_gorm_time(dt: datetime, nanosecond: int | None = None) -> str:
    """Format like GORM/Go: ``2006-01-02 15:04:05.999999999-07:00`` (trailing zeros trimmed).

    A naive ``dt`` is taken as UTC. ``nanosecond`` overrides the fraction (it must agree with
    ``dt.microsecond`` to the microsecond, else ``ValueError``).
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ns = dt.microsecond * 1000 if nanosecond is None else nanosecond
    if ns // 1000 != dt.microsecond:
        raise ValueError("nanosecond does not match dt.microsecond")
    base = dt.strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{ns:09d}".rstrip("0")
    off = dt.utcoffset() or timedelta(0)
    total = int(off.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{base}{'.' + frac if frac else ''}{sign}{total // 60:02d}:{total % 60:02d}"


def gorm_now(*, local: bool = False) -> str:
    """Now as GORM datetime text with nanoseconds; ``local`` uses the host's offset like the Go server."""
    ns = time.time_ns()
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns % 10**9) // 1000)
    return format_gorm_time(dt.astimezone() if local else dt, ns % 10**9)
