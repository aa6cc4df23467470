from __future__ import annotations

from pathlib import Path

import pytest

from ops.backups import sha256_file
from ops.dry_run import dry_run
from ops.errors import OpInputError
from ops.rollback import rollback
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


def test_rollback_dry_run_matches_real_and_leaves_db(migrated: FixtureInfo) -> None:
    digest = db_digest(migrated)
    files_before = sorted(p.relative_to(migrated.root) for p in migrated.root.rglob("*"))
    dr = dry_run(migrated.host(running=True), "rollback")
    assert db_digest(migrated) == digest and dr.live_db_unchanged
    assert sorted(p.relative_to(migrated.root) for p in migrated.root.rglob("*")) == files_before  # no backup
    assert dr.would_refuse and "running" in dr.would_refuse[0]
    assert any("would be refused" in w for w in dr.warnings)
    real = rollback(migrated.host())
    assert dr.dropped == real.dropped
    assert [r.file_name for r in dr.lost_rows] == [r.file_name for r in real.lost_rows] == ["after-migration.png"]
    assert dr.counts_before == real.counts_before and dr.counts_after == real.counts_after
    assert dr.marker_after is not None and dr.marker_after.state == "absent"


def test_soft_mode_dry_run(migrated_a: FixtureInfo) -> None:
    dr = dry_run(migrated_a.host(), "rollback", marker_mode="soft")
    assert dr.marker_after is not None and dr.marker_after.state == "soft-deleted" and dr.would_refuse == []


def test_noop_dry_run(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    dr = dry_run(info.host(), "rollback")
    assert dr.outcome == "noop" and dr.dropped == []


def test_restore_dry_run(migrated_a: FixtureInfo, no_proc: Path) -> None:
    digest = db_digest(migrated_a)
    fx.leave_journal(migrated_a.root, "empty")
    dr = dry_run(migrated_a.host(running=None), "restore", backup=migrated_a.pre_migration_backup)
    assert db_digest(migrated_a) == digest and migrated_a.deployment.journal_path.exists()
    assert dr.era_before == "a7396e9-media" and dr.era_after == "pre-migration"
    assert "media" in dr.dropped and "migration_records" in dr.dropped and dr.added == []
    assert dr.counts_after.media_raw is None and dr.counts_after.images_live == 3
    assert [r for r in dr.would_refuse if "unknown" in r]
    assert not [r for r in dr.would_refuse if "journal" in r]  # an empty journal is removable


def test_journal_dry_run_warns(migrated_a: FixtureInfo) -> None:
    fx.leave_journal(migrated_a.root, "hot")
    digest = db_digest(migrated_a)
    journal = migrated_a.deployment.journal_path.read_bytes()
    dr = dry_run(migrated_a.host(), "rollback")
    assert any("main.db-journal" in r for r in dr.would_refuse)
    assert db_digest(migrated_a) == digest and migrated_a.deployment.journal_path.read_bytes() == journal


@pytest.mark.parametrize("kind", ["empty", "zeroed"])
def test_stale_journal_is_not_a_refusal_for_rollback_either(migrated_a: FixtureInfo, kind: str) -> None:
    fx.leave_journal(migrated_a.root, kind)  # type: ignore[arg-type]
    dr = dry_run(migrated_a.host(), "rollback")
    assert dr.would_refuse == [] and migrated_a.deployment.journal_path.exists()  # a dry run removes nothing


def test_restore_dry_run_pins_the_backup_hash(migrated_a: FixtureInfo) -> None:
    name = str(migrated_a.pre_migration_backup)
    real = sha256_file(migrated_a.deployment.backups_dir / name)
    dr = dry_run(migrated_a.host(), "restore", backup=name, expected_sha256=real.upper())
    assert dr.outcome == "ok" and dr.backup_sha256 == real and dr.expected_sha256 == real
    digest = db_digest(migrated_a)
    with pytest.raises(OpInputError) as ei:
        dry_run(migrated_a.host(), "restore", backup=name, expected_sha256="0" * 64)
    assert ei.value.code == "backup_checksum_mismatch" and real in ei.value.message
    with pytest.raises(OpInputError) as ei:
        dry_run(migrated_a.host(), "rollback", expected_sha256=real)
    assert ei.value.code == "bad_argument"
    assert db_digest(migrated_a) == digest


def test_dry_run_bad_input(migrated_a: FixtureInfo) -> None:
    with pytest.raises(OpInputError):
        dry_run(migrated_a.host(), "restore")
    with pytest.raises(OpInputError) as ei:
        dry_run(migrated_a.host(), "restore", backup="../x.db")
    assert ei.value.code == "backup_path_outside"
    with pytest.raises(OpInputError):
        dry_run(migrated_a.host(), "drop", backup=None)  # type: ignore[arg-type]
