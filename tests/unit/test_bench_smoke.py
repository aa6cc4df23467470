"""`make bench` code can't rot: every bench runs once with tiny sizes (127.0.0.1 only, a few seconds)."""

from __future__ import annotations

from bench import db_ops, record, slack_ack
from bench.report import Budget, Row, percentile, table


def test_bench_modules_run_quick() -> None:
    rows: list[Row] = []
    rows += slack_ack.run(iterations=3, budget=Budget(20))
    rows += db_ops.run(images=1000, docs=1000, iterations=3, budget=Budget(20))
    rows += record.run(iterations=1, sizes=(60, 120), budget=Budget(20))

    assert [r.note for r in rows if not r.ok] == []
    goals = [r.goal for r in rows]
    for needle in (
        "/rollback ack p95",
        "click Done ack p95",
        "backups_create",
        "rollback vs",
        "verify vs",
        "record of 120 messages",
        "record growth 120 vs 60",
    ):
        assert any(needle in g for g in goals), (needle, goals)
    assert all(r.measured_s > 0 and r.baseline_s > 0 for r in rows)
    assert "Slack's 3 s budget" in " ".join(r.note for r in rows)  # reported, never asserted
    out = table(rows)
    assert out.splitlines()[0].split(" | ")[0].strip() == "goal" and len(out.splitlines()) == len(rows) + 2


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 21)]
    assert percentile(samples, 50) == 10.0 and percentile(samples, 95) == 19.0 and percentile([3.0], 95) == 3.0
    assert Row("g", 2.0, 0.5).ratio == 4.0
