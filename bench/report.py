"""Shared bench plumbing: a time budget, percentiles, paired timing and the result table.

Every goal is reported as a ratio ``measured / baseline`` where both were measured in the same run on
the same machine, so the numbers mean the same on a laptop and on a loaded CI runner.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class Budget:
    """A wall-clock allowance; loops check ``left()`` and stop early instead of overrunning."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= 0

    def share(self, fraction: float) -> Budget:
        """A sub-budget: ``fraction`` of what is left now."""
        return Budget(max(self.left(), 0.0) * fraction)


@dataclass
class Row:
    """One line of the table. ``max_ratio``/``max_abs`` are the goal (PASS/FAIL); without either the
    line only reports."""

    goal: str
    measured_s: float  # seconds, or MiB when unit == "MiB"
    baseline_s: float
    note: str = ""
    ok: bool = True  # False when the operation itself failed (a bug, not slowness)
    unit: str = "s"
    max_ratio: float | None = None
    max_abs: float | None = None

    @property
    def ratio(self) -> float:
        return self.measured_s / self.baseline_s if self.baseline_s > 0 else math.inf

    @property
    def target(self) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:g}x")
        if self.max_abs is not None:
            parts.append(f"<= {self.max_abs:g} {self.unit}")
        return ", ".join(parts) or "-"

    @property
    def verdict(self) -> str:
        if not self.ok:
            return "FAIL"
        if self.max_ratio is None and self.max_abs is None:
            return "info"
        passed = (self.max_ratio is None or self.ratio <= self.max_ratio) and (
            self.max_abs is None or self.measured_s <= self.max_abs
        )
        return "PASS" if passed else "FAIL"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p50 of [1, 2, 3, 4] is 2; p95 of 20 samples is the 19th)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took (perf_counter)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@dataclass
class Paired:
    """Samples of a measured operation and its baseline, taken alternately so drift hits both."""

    measured: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    def run(self, i: int, measured: Callable[[], T], baseline: Callable[[], object]) -> T:
        """Time both (baseline first on even ``i``); returns what ``measured`` returned."""
        if i % 2 == 0:
            self.baseline.append(timed(baseline))
        t0 = time.perf_counter()
        value = measured()
        self.measured.append(time.perf_counter() - t0)
        if i % 2 != 0:
            self.baseline.append(timed(baseline))
        return value

    def extend(self, other: Paired) -> None:
        self.measured += other.measured
        self.baseline += other.baseline

    def __len__(self) -> int:
        return len(self.measured)


def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def fmt_ratio(ratio: float) -> str:
    return "inf" if math.isinf(ratio) else f"{ratio:.2f}x"


def fmt_value(value: float, unit: str) -> str:
    return fmt_s(value) if unit == "s" else f"{value:.0f} {unit}"


def table(rows: Sequence[Row]) -> str:
    """One Markdown table: goal, measured, baseline, ratio, target, verdict, note."""
    header = ("goal", "measured", "baseline", "ratio", "target", "verdict", "note")
    cells = [header] + [
        (
            r.goal,
            fmt_value(r.measured_s, r.unit),
            fmt_value(r.baseline_s, r.unit),
            fmt_ratio(r.ratio),
            r.target,
            r.verdict,
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(6)]
    lines = []
    for n, c in enumerate(cells):
        left = c[0].ljust(widths[0])
        mid = [c[i].rjust(widths[i]) for i in (1, 2, 3)] + [c[4].ljust(widths[4]), c[5].ljust(widths[5])]
        lines.append("| " + " | ".join([left, *mid, c[6]]) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(lines)
