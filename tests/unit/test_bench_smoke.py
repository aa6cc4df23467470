"""`make bench` code can't rot: every bench runs once with tiny sizes (127.0.0.1 only, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import db_ops, fixture, record, slack_ack
from bench.report import Budget, Row, percentile, table


def test_bench_modules_run_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLBACK_BENCH_CACHE", str(tmp_path / "cache"))
    rows: list[Row] = []
    rows += slack_ack.run(iterations=3, budget=Budget(20))
    rows += db_ops.run(size="tiny", iterations=1, budget=Budget(60))
    rows += record.run(iterations=1, sizes=(60, 120), budget=Budget(20))

    assert [r.note for r in rows if not r.ok] == []
    goals = [r.goal for r in rows]
    for needle in (
        "/rollback ack p95",
        "click Done ack p95",
        "429 on every edit ack p95",
        "backups create",
        "rollback (no backup)",
        "restore vs",
        "record of 120 messages",
        "record growth 120 vs 60",
    ):
        assert any(needle in g for g in goals), (needle, goals)
    assert any(g.startswith("verify vs") for g in goals)
    assert all(r.measured_s > 0 and r.baseline_s > 0 for r in rows)
    assert {r.verdict for r in rows if r.max_ratio or r.max_abs} <= {"PASS", "FAIL"}
    assert "Slack's 3 s budget" in " ".join(r.note for r in rows)  # reported, never asserted
    out = table(rows)
    assert out.splitlines()[0].split("|")[1].strip() == "goal" and len(out.splitlines()) == len(rows) + 2
    # the cached deployment is what the manifest says (the bench checks every result against it)
    bd = fixture.get("tiny", log=False)
    m = bd.manifest
    assert (m.images_live, m.docs_live, m.lost_rows, m.deletes_undone) == (500, 500, 5, 2)
    assert m.media_rows == m.images_live + m.docs_live + 3  # + the 3 uploads after the migration


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 21)]
    assert percentile(samples, 50) == 10.0 and percentile(samples, 95) == 19.0 and percentile([3.0], 95) == 3.0
    assert Row("g", 2.0, 0.5).ratio == 4.0
    assert Row("g", 2.0, 1.0, max_ratio=2.0).verdict == "PASS" and Row("g", 2.1, 1.0, max_ratio=2.0).verdict == "FAIL"
    assert Row("m", 151.0, 6.0, unit="MiB", max_abs=150.0).verdict == "FAIL"
