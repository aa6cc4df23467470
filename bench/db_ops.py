"""Agent operations on a cached go-fast-cdn-shaped deployment, each against its peer pipeline.

Every sample of an agent operation runs in a fresh process (``bench.worker``: time around the call,
peak RSS of the process, result checked against the deployment's manifest); every sample of a
peer runs the shell pipeline of ``bench.peers``. The two alternate (peer first on even
iterations) and start from the same state (reset untimed), so drift hits both alike.

| agent operation | peer pipeline |
|---|---|
| ``backups create`` | ``.backup`` + ``sha256sum`` + ``integrity_check`` |
| ``rollback`` (with its safety backup) | the same, then the sqlite3 CLI running the rollback SQL |
| the rollback transaction alone | the sqlite3 CLI running the rollback SQL |
| ``restore`` of the pre-migration backup | ``cp`` + ``sync`` + ``mv`` + ``sha256sum`` + ``integrity_check`` |
| ``verify`` after the rollback | sqlite3 ``COUNT`` + ``stat`` of every live row's file |
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import fixture, peers
from bench.report import Budget, Row, median

RSS_LIMIT_MIB = 150.0


class OpFailed(RuntimeError):
    pass


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    peer_seconds: list[float] = field(default_factory=list)
    maxrss_kib: list[int] = field(default_factory=list)
    peer_maxrss_kib: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seconds)


def run_worker(op: str, bd: fixture.BenchDeployment) -> tuple[float, int]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", op, str(bd.root)], capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise OpFailed(f"{op} worker exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    out = json.loads(lines[-1])
    if out["error"]:
        raise OpFailed(str(out["error"]))
    return float(out["seconds"]), int(out["maxrss_kib"])


def paired(
    op: str,
    peer_script: str,
    bd: fixture.BenchDeployment,
    n: int,
    budget: Budget,
    *,
    before: Callable[[], None] = lambda: None,
) -> Samples:
    """``n`` alternating samples of the agent op and its peer; ``before`` resets state (untimed)."""
    s = Samples()
    cwd = bd.deployment.root
    for i in range(n):
        if budget.expired() and len(s) >= 1:
            break

        def agent() -> None:
            before()
            sec, rss = run_worker(op, bd)
            s.seconds.append(sec)
            s.maxrss_kib.append(rss)

        def peer() -> None:
            before()
            r = peers.run_shell(peer_script, cwd)
            s.peer_seconds.append(r.seconds)
            s.peer_maxrss_kib.append(r.maxrss_kib)

        for step in (peer, agent) if i % 2 == 0 else (agent, peer):
            step()
    return s


def _rows(goal: str, s: Samples, max_ratio: float | None, note: str, *, rss_goal: bool) -> list[Row]:
    rows = [
        Row(goal, median(s.seconds), median(s.peer_seconds), max_ratio=max_ratio, note=f"median of {len(s)}; {note}")
    ]
    rss, peer_rss = max(s.maxrss_kib) / 1024, max(s.peer_maxrss_kib) / 1024
    rows.append(
        Row(
            f"{goal}: peak RSS",
            rss,
            peer_rss,
            unit="MiB",
            max_abs=RSS_LIMIT_MIB if rss_goal else None,
            note="the agent process vs the peer's largest process",
        )
    )
    return rows


def run(*, size: str = "small", iterations: int = 3, budget: Budget | None = None) -> list[Row]:
    budget = budget or Budget(300)
    peers.ensure_tools()
    bd = fixture.get(size)
    m = bd.manifest
    dep = bd.deployment
    what = f"{m.images_live:,} images + {m.docs_live:,} docs, {m.media_rows:,} media rows, {m.db_bytes / 1e6:.0f} MB"
    rows: list[Row] = []

    def reset() -> None:
        fixture.reset(bd)

    def reset_backups() -> None:
        fixture.reset(bd, db=False)

    steps: list[tuple[str, str, str, Callable[[], None], float | None, bool, float]] = [
        (
            "backups create vs .backup+sha256sum+integrity_check",
            "backups_create",
            peers.backup_script(),
            reset_backups,
            1.0,
            False,
            0.15,
        ),
        (
            "rollback (no backup) vs sqlite3 CLI same SQL",
            "rollback_core",
            peers.rollback_sql_script(dep),
            reset,
            2.0,
            True,
            0.25,
        ),
        (
            "restore vs cp+sync+mv+sha256sum+integrity_check",
            "restore",
            peers.restore_script(m.pre_migration_backup),
            reset,
            1.2,
            False,
            0.3,
        ),
        (
            "rollback (with backup) vs .backup+sha256sum+integrity_check+SQL",
            "rollback",
            peers.backup_script() + "\n" + peers.rollback_sql_script(dep),
            reset,
            1.2,
            True,
            0.6,
        ),
        ("verify vs COUNT+stat of every file", "verify", peers.verify_script(), lambda: None, 1.0, True, 1.0),
    ]
    for goal, op, script, before, max_ratio, rss_goal, share in steps:
        try:
            if op == "verify":  # a rolled-back DB with the baseline.json its rollback wrote
                reset()
                run_worker("rollback", bd)
            s = paired(op, script, bd, iterations, budget.share(share), before=before)
        except (OpFailed, peers.PeerFailed) as exc:
            rows.append(Row(goal, 0.0, 0.0, note=f"FAILED: {exc}", ok=False))
            reset()
            continue
        rows += _rows(goal, s, max_ratio, what, rss_goal=rss_goal)
    try:
        rows.append(_scrub_row(bd, iterations, what))
    except peers.PeerFailed as exc:
        rows.append(
            Row("rollback SQL, secure_delete=FAST vs Debian's default", 0.0, 0.0, note=f"FAILED: {exc}", ok=False)
        )
    reset()
    return rows


def _scrub_row(bd: fixture.BenchDeployment, n: int, what: str) -> Row:
    """The rollback SQL in the sqlite3 CLI with ``PRAGMA secure_delete=FAST`` (how the agent drops)
    against the CLI as Debian builds it, which overwrites and journals every freed page: reported,
    so the "rollback transaction" line's baseline is read for what it is."""
    fast, default = [], []
    script_fast = peers.rollback_sql_script(bd.deployment, secure_delete="FAST")
    script_default = peers.rollback_sql_script(bd.deployment)
    for i in range(n):
        for script, out in ((script_default, default), (script_fast, fast))[:: 1 if i % 2 == 0 else -1]:
            fixture.reset(bd)
            out.append(peers.run_shell(script, bd.deployment.root).seconds)
    return Row(
        "rollback SQL, secure_delete=FAST vs Debian's default",
        median(fast),
        median(default),
        note=f"sqlite3 CLI both; median of {n}; {what}",
    )
