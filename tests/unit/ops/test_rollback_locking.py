"""run_rollback_on plans (inspect, lost rows) before taking the write lock, and plans again under
the lock if another connection committed in between; rollback() checks the legacy files beside its
backup, outside the write lock, and again if the plan was made again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

import ops.rollback as rb
from ops.deployment import Deployment
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo


def _write_lock_free(dep: Deployment) -> bool:
    other = sqlite3.connect(dep.db_path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_file_check_runs_outside_the_write_lock(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    dep = migrated_a.deployment
    fx.remove_file(migrated_a.root, "images", "dog.jpg")
    seen: list[bool] = []
    real_missing, real_plan = rb.missing_legacy_files, rb.plan_rollback
    plans: list[int] = []

    def missing(conn: sqlite3.Connection, d: Deployment) -> Any:
        seen.append(_write_lock_free(dep))
        return real_missing(conn, d)

    def plan(conn: sqlite3.Connection, d: Deployment) -> rb.RollbackPlan:
        plans.append(1)
        return real_plan(conn, d)

    monkeypatch.setattr(rb, "missing_legacy_files", missing)
    monkeypatch.setattr(rb, "plan_rollback", plan)
    res = rb.rollback(migrated_a.host())
    assert seen == [True] and len(plans) == 1  # nobody else wrote: planned and checked once, unlocked
    assert [m.file_name for m in res.missing_files] == ["dog.jpg"]
    assert res.outcome == "ok" and res.marker_after.state == "absent"


def test_rollback_checks_the_files_again_when_it_planned_again(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit after the plan and file check made ahead (here a rename): the drop plans again under
    the write lock, and the files are checked again, so both report what the drop saw."""
    real = rb.plan_ahead
    made: list[rb.PlanSnapshot] = []

    def ahead_then_rename(db: Path, d: Deployment) -> rb.PlanSnapshot:
        snap = real(db, d)
        made.append(snap)
        with fx.connect(migrated_a.root) as other:
            other.execute("UPDATE images SET file_name='renamed.png' WHERE file_name='cat.png'")
        return snap

    monkeypatch.setattr(rb, "plan_ahead", ahead_then_rename)
    res = rb.rollback(migrated_a.host())
    assert made and made[0].missing_files == [] and "cat.png" not in {r.file_name for r in made[0].plan.lost_rows}
    assert [m.file_name for m in res.missing_files] == ["renamed.png"]
    assert "cat.png" in {r.file_name for r in res.lost_rows}


def test_commit_between_plan_and_write_lock_is_replanned(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = migrated_a.deployment
    with fx.connect(migrated_a.root) as conn:  # WAL: another connection can commit while the plan reads
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    real_plan = rb.plan_rollback
    plans: list[rb.RollbackPlan] = []

    def plan(conn: sqlite3.Connection, d: Deployment) -> rb.RollbackPlan:
        p = real_plan(conn, d)
        if not plans:  # a rename that leaves every count as it was
            with fx.connect(migrated_a.root) as other:
                other.execute("UPDATE images SET file_name='renamed.png' WHERE file_name='cat.png'")
        plans.append(p)
        return p

    monkeypatch.setattr(rb, "plan_rollback", plan)
    out = rb.run_rollback_on(dep.db_path, dep, "hard")
    assert len(plans) == 2 and out.plan is plans[1] and out.replanned
    assert plans[0].info.counts == plans[1].info.counts
    assert "cat.png" in {r.file_name for r in out.plan.lost_rows}
    assert "cat.png" not in {r.file_name for r in plans[0].lost_rows}
    assert not out.after.media_present


def test_plan_made_ahead_is_used_unless_someone_committed_since(migrated_a: FixtureInfo) -> None:
    """rollback() plans on a second thread while its backup is made (rb.plan_ahead): the drop uses
    that plan when nothing was committed since, and plans again under the write lock otherwise."""
    dep = migrated_a.deployment
    ahead = rb.plan_ahead(dep.db_path, dep)
    out = rb.run_rollback_on(dep.db_path, dep, "hard", planned=ahead)
    assert out.plan is ahead.plan and not out.replanned and out.dropped and not out.after.media_present


def test_commit_after_the_plan_made_ahead_is_replanned(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    ahead = rb.plan_ahead(dep.db_path, dep)
    with fx.connect(migrated_a.root) as other:  # a rename that leaves every count as it was
        other.execute("UPDATE images SET file_name='renamed.png' WHERE file_name='cat.png'")
    out = rb.run_rollback_on(dep.db_path, dep, "hard", planned=ahead)
    assert out.plan is not ahead.plan and out.replanned
    assert "cat.png" not in {r.file_name for r in ahead.plan.lost_rows}
    assert "cat.png" in {r.file_name for r in out.plan.lost_rows}
    assert not out.after.media_present


def test_rollback_plans_while_its_backup_is_made(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = rb.plan_ahead

    def ahead(db: Path, d: Deployment) -> rb.PlanSnapshot:
        threads.append(threading.current_thread().name)
        return real(db, d)

    monkeypatch.setattr(rb, "plan_ahead", ahead)
    res = rb.rollback(migrated_a.host())
    assert res.outcome == "ok" and threads and threads[0].startswith("rollback-plan")
    assert res.counts_before.media_raw == 6 and not rb.inspect_file(migrated_a.deployment.db_path).media_present
