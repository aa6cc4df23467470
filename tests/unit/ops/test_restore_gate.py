"""A backup must be a go-fast-cdn DB of its era before it replaces main.db."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from ops.backups import restore_backup
from ops.dry_run import dry_run
from ops.errors import OpInputError, OpRefused
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo

from .conftest import db_digest


def make_backup(info: FixtureInfo, name: str, sql: list[str], *, wal: bool = False, base: bool = True) -> str:
    """A copy of the pre-migration backup (or an empty DB) changed by ``sql``."""
    dst = info.deployment.backups_dir / name
    if base:
        shutil.copyfile(info.deployment.backups_dir / str(info.pre_migration_backup), dst)
    conn = sqlite3.connect(dst, isolation_level=None)
    for stmt in sql:
        conn.execute(stmt)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    for side in ("-wal", "-shm"):
        Path(str(dst) + side).unlink(missing_ok=True)
    return name


LEGACY = "(id, created_at, updated_at, deleted_at, file_name, checksum)"


@pytest.mark.parametrize(
    ("sql", "wal", "base", "needle"),
    [
        ([], True, True, "wal journal mode"),
        (["DROP TABLE users"], False, True, "users"),
        (["DROP TABLE configs", "DROP TABLE password_resets"], False, True, "configs, password_resets"),
        ([f"CREATE TABLE images {LEGACY}", f"CREATE TABLE docs {LEGACY}"], True, False, "wal journal mode"),
        ([f"CREATE TABLE images {LEGACY}", f"CREATE TABLE docs {LEGACY}"], False, False, "users"),
        (["ALTER TABLE images DROP COLUMN checksum"], False, True, "images lacks column(s) checksum"),
        (["CREATE TABLE media (id, type, deleted_at)"], False, True, "(tip-empty-media)"),
    ],
)
def test_not_a_gofastcdn_db_is_refused_untouched(
    migrated_a: FixtureInfo, sql: list[str], wal: bool, base: bool, needle: str
) -> None:
    name = make_backup(migrated_a, "odd.db", sql, wal=wal, base=base)
    digest = db_digest(migrated_a)
    listing = sorted(p.name for p in migrated_a.deployment.backups_dir.iterdir())
    if needle == "(tip-empty-media)":  # an empty media table is an era of its own: accepted
        assert restore_backup(migrated_a.host(), name).outcome == "ok"
        return
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), name)
    assert ei.value.code == "backup_not_gofastcdn" and needle in ei.value.message, ei.value.message
    assert "nothing was changed" in ei.value.message
    assert db_digest(migrated_a) == digest
    assert sorted(p.name for p in migrated_a.deployment.backups_dir.iterdir()) == listing


def test_migrated_era_needs_migration_records(migrated_a: FixtureInfo) -> None:
    from ops.backups import create_backup

    b = create_backup(migrated_a.host(), label="post")
    conn = sqlite3.connect(migrated_a.deployment.backups_dir / b.name)
    conn.execute("DROP TABLE migration_records")
    conn.commit()
    conn.close()
    (migrated_a.deployment.backups_dir / b.sidecar).unlink()
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), b.name)
    assert "live migration marker" in ei.value.message or "migration_records" in ei.value.message


def test_far_fewer_live_rows_needs_a_recorded_override(migrated_a: FixtureInfo) -> None:
    name = make_backup(migrated_a, "emptied.db", ["DELETE FROM images", "DELETE FROM docs"])
    digest = db_digest(migrated_a)
    with pytest.raises(OpRefused) as ei:
        restore_backup(migrated_a.host(), name)
    assert ei.value.code == "backup_far_fewer_rows"
    assert "0 live images+docs" in ei.value.message and "5" in ei.value.message
    assert "--accept-fewer-rows" in ei.value.message and db_digest(migrated_a) == digest
    rehearsal = dry_run(migrated_a.host(), "restore", backup=name)
    assert any("far fewer" in r for r in rehearsal.would_refuse)
    res = restore_backup(migrated_a.host(), name, accept_fewer_rows="the team emptied the CDN on purpose")
    assert res.outcome == "ok" and res.row_check is not None
    assert res.row_check.far_fewer and res.row_check.override_reason == "the team emptied the CDN on purpose"
    assert (res.row_check.backup_live, res.row_check.current_live) == (0, 5)
    assert any("far fewer live rows" in w for w in res.warnings)


def test_a_few_fewer_rows_pass_without_override(migrated_a: FixtureInfo) -> None:
    name = make_backup(migrated_a, "minus-one.db", ["DELETE FROM images WHERE id = 1"])
    res = restore_backup(migrated_a.host(), name)
    assert res.outcome == "ok" and res.row_check is not None and not res.row_check.far_fewer
    assert (res.row_check.backup_live, res.row_check.current_live) == (4, 5)


def test_rolled_back_and_gofastcdn_byte_copies_pass(migrated: FixtureInfo) -> None:
    """The real go-fast-cdn backup of either schema passes every check."""
    res = restore_backup(migrated.host(), str(migrated.pre_migration_backup))
    assert res.outcome == "ok" and res.row_check is not None and not res.row_check.far_fewer


def test_garbage_backup_still_invalid(migrated_a: FixtureInfo) -> None:
    fx.write_garbage_backup(migrated_a.root, "junk.db")
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), "junk.db")
    assert ei.value.code == "backup_invalid"


def test_listing_a_wal_backup_marks_it_invalid_without_opening_it(migrated_a: FixtureInfo) -> None:
    from ops.backups import list_backups

    make_backup(migrated_a, "walmode.db", [], wal=True)
    listing = list_backups(migrated_a.host())
    (wal,) = [b for b in listing.backups if b.name == "walmode.db"]
    assert not wal.valid and "wal journal mode" in wal.integrity
    assert not [p for p in migrated_a.deployment.backups_dir.iterdir() if p.name.startswith("walmode.db-")]
