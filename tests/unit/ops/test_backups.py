from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops import backups
from ops.backups import create_backup, list_backups, sha256_file
from ops.rollback import rollback
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


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


@pytest.mark.parametrize("marker_mode", ["hard", "soft"])
def test_backup_of_a_rolled_back_db_is_never_the_newest_pre_migration(
    migrated_a: FixtureInfo, marker_mode: str
) -> None:
    """A rolled-back DB keeps migration_records (soft-deleted row, or no row after our hard delete):
    it has no live marker and no media, but it is not the pre-migration state, so it is never starred."""
    rb = rollback(migrated_a.host(), marker_mode=marker_mode)  # type: ignore[arg-type]
    emergency = create_backup(migrated_a.host(), label="emergency")
    pre_restore = create_backup(migrated_a.host(), label="pre-restore")
    res = list_backups(migrated_a.host())
    by = {b.name: b for b in res.backups}
    assert res.newest_pre_migration == migrated_a.pre_migration_backup
    assert [b.name for b in res.backups if b.newest_pre_migration] == [migrated_a.pre_migration_backup]
    for name in (emergency.name, pre_restore.name):
        b = by[name]
        assert b.era == "rolled-back" and b.migration_records_present is True
        assert not b.pre_migration and not b.newest_pre_migration
        assert b.restorable_without_media  # nothing lost from the listing: it is still flagged
        assert b.pre_migration_note is not None and "rolled back" in b.pre_migration_note
    assert rb.backup is not None and not by[rb.backup].restorable_without_media  # live marker + media
    pre = by[str(migrated_a.pre_migration_backup)]
    assert pre.pre_migration and pre.restorable_without_media and pre.migration_records_present is False
    assert "2 without live marker/media but not pre-migration" in res.summary


def test_no_pre_migration_backup_means_no_star(migrated_a: FixtureInfo) -> None:
    (migrated_a.deployment.backups_dir / str(migrated_a.pre_migration_backup)).unlink()
    rollback(migrated_a.host())
    create_backup(migrated_a.host(), label="emergency")
    res = list_backups(migrated_a.host())
    assert res.newest_pre_migration is None and not any(b.pre_migration for b in res.backups)
    assert "newest pre-migration: none" in res.summary
    assert any("no pre-migration backup" in w for w in res.warnings)


def test_agents_own_safety_copies_are_never_pre_migration(tmp_path: Path) -> None:
    """Even a pristine pre-migration DB copied as pre-rollback/pre-restore is never the default."""
    info = fx.build_pre_migration_deployment(tmp_path)
    manual = create_backup(info.host(), label="manual")
    own = [create_backup(info.host(), label=label).name for label in ("pre-rollback", "pre-restore")]
    res = list_backups(info.host())
    by = {b.name: b for b in res.backups}
    assert res.newest_pre_migration == manual.name
    for name in own:
        assert by[name].era == "pre-migration" and by[name].restorable_without_media
        assert not by[name].pre_migration and "own" in str(by[name].pre_migration_note)
    (info.deployment.backups_dir / manual.name).unlink()
    assert list_backups(info.host()).newest_pre_migration is None


def test_backup_named_after_the_marker_is_not_pre_migration(tmp_path: Path) -> None:
    """Content says pre-migration, but its name's time is later than the current DB's marker."""
    info = fx.build_pre_migration_deployment(tmp_path)
    early = fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 30, 20, 0, 0)).name
    late = fx.make_gofastcdn_backup(info.root, datetime.now() + timedelta(days=2)).name  # a skewed clock
    fx.migrate(info.root)
    res = list_backups(info.host())
    by = {b.name: b for b in res.backups}
    assert res.current_marker_created_at is not None
    assert by[late].restorable_without_media and by[late].era == "pre-migration"
    assert not by[late].pre_migration and "after the current DB's migration marker" in str(by[late].pre_migration_note)
    assert res.newest_pre_migration == early


def test_empty_tip_media_before_the_migration_is_pre_migration(tmp_path: Path) -> None:
    """A tip binary that connected before the migration leaves an empty media table but no
    migration_records; after a rollback it leaves an empty media table next to migration_records."""
    info = fx.build_pre_migration_deployment(tmp_path / "pre")
    fx.recreate_empty_media_tip(info.root)
    before = fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 30, 20, 0, 0)).name
    rolled = fx.build_migrated_deployment(tmp_path / "rolled")
    fx.builtin_rollback(rolled.root)
    fx.recreate_empty_media_tip(rolled.root)
    after = create_backup(rolled.host(), label="manual").name
    b1 = {b.name: b for b in list_backups(info.host()).backups}[before]
    b2 = {b.name: b for b in list_backups(rolled.host()).backups}[after]
    assert b1.era == b2.era == "tip-empty-media"
    assert b1.pre_migration and b1.newest_pre_migration
    assert not b2.pre_migration and b2.restorable_without_media and b2.migration_records_present


def test_name_time_parsing() -> None:
    t, kind, label = backups.name_time("rollback-agent_20250801-120000-000042_pre-rollback.db")
    assert (kind, label) == ("agent", "pre-rollback")
    assert t == datetime(2025, 8, 1, 12, 0, 0, 42, tzinfo=UTC)
    assert backups.name_time("whatever.db")[:2] == (None, "other")


def test_empty_backups_dir_is_noop(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    res = list_backups(info.host())
    assert res.outcome == "noop" and res.backups == [] and res.newest_pre_migration is None
