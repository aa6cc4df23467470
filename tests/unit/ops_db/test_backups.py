from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops import backups
from ops.backups import create_backup, list_backups, sha256_file
from ops.rollback import rollback
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo

from .conftest import db_digest


def test_create_uses_backup_api_and_sidecar(migrated_a: FixtureInfo) -> None:
    digest = db_digest(migrated_a)
    res = create_backup(migrated_a.host(running=True), label="before deploy!")
    path = migrated_a.deployment.backups_dir / res.name
    assert res.outcome == "ok" and res.integrity == "ok"
    assert res.name.startswith("rollback-agent_") and res.name.endswith("_before-deploy.db")
    assert res.sha256 == sha256_file(path)
    side = json.loads((path.parent / res.sidecar).read_text())
    assert side["sha256"] == res.sha256 and side["integrity"] == "ok"
    assert side["source_counts"]["images_live"] == 3 and side["source_counts"]["media_raw"] == 6
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM media").fetchone()[0] == 6
    assert db_digest(migrated_a) == digest
    assert not list(path.parent.glob("*.part"))


def test_two_backups_same_instant_never_overwrite(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = datetime(2025, 8, 1, 12, 0, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr(backups, "_now", lambda: fixed)
    a = create_backup(migrated_a.host())
    fx.add_image(migrated_a.root, "new.png")
    b = create_backup(migrated_a.host())
    assert a.name == "rollback-agent_20250801-120000-123456_manual.db"
    assert b.name == "rollback-agent_20250801-120000-123456-1_manual.db"
    bdir = migrated_a.deployment.backups_dir
    assert sha256_file(bdir / a.name) == a.sha256 != b.sha256 == sha256_file(bdir / b.name)


def test_list_marks_newest_pre_migration_and_garbage(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 29, 10, 0, 0))
    fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 30, 20, 33, 39))
    fx.migrate(info.root)
    fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 31, 8, 0, 0))  # post-migration
    fx.write_garbage_backup(info.root, "db_backup_20250801-000000.db")
    (info.deployment.backups_dir / "notes.txt").write_text("ignored")
    sub = info.deployment.backups_dir / "old"
    sub.mkdir()
    fx.make_gofastcdn_backup(info.root).rename(sub / "db_backup_20250802-000000.db")  # not recursive
    agent = create_backup(info.host())
    res = list_backups(info.host())
    names = [b.name for b in res.backups]
    assert names == [
        "db_backup_20250729-100000.db",
        "db_backup_20250730-203339.db",
        "db_backup_20250731-080000.db",
        "db_backup_20250801-000000.db",
        agent.name,
    ]
    by = {b.name: b for b in res.backups}
    assert res.newest_pre_migration == "db_backup_20250730-203339.db"
    assert [b.name for b in res.backups if b.newest_pre_migration] == ["db_backup_20250730-203339.db"]
    assert by["db_backup_20250729-100000.db"].pre_migration and by["db_backup_20250729-100000.db"].kind == "go-fast-cdn"
    assert not by["db_backup_20250731-080000.db"].pre_migration
    assert by["db_backup_20250731-080000.db"].marker_state == "live"
    g = by["db_backup_20250801-000000.db"]
    assert not g.valid and not g.pre_migration and g.integrity.startswith("unreadable")
    assert by[agent.name].kind == "agent" and by[agent.name].sidecar_sha256 == agent.sha256
    assert by["db_backup_20250730-203339.db"].time == datetime(2025, 7, 30, 20, 33, 39).astimezone()
    assert "invalid" in res.summary


def test_agent_backup_after_rollback_counts_as_pre_migration(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    later = create_backup(migrated_a.host(), label="after")
    res = list_backups(migrated_a.host())
    assert res.newest_pre_migration == later.name
    assert sum(b.newest_pre_migration for b in res.backups) == 1


def test_name_time_parsing() -> None:
    t, kind, label = backups.name_time("rollback-agent_20250801-120000-000042_pre-rollback.db")
    assert (kind, label) == ("agent", "pre-rollback")
    assert t == datetime(2025, 8, 1, 12, 0, 0, 42, tzinfo=UTC)
    assert backups.name_time("whatever.db")[:2] == (None, "other")


def test_empty_backups_dir_is_noop(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    res = list_backups(info.host())
    assert res.outcome == "noop" and res.backups == [] and res.newest_pre_migration is None
