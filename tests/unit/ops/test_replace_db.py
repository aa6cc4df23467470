"""Option 3's "Replace database file": a backup name, or a file from an allow-listed folder."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ops.backups import list_backups, sha256_file
from ops.errors import OpInputError, OpRefused
from ops.host import Host
from ops.replace_db import replace_db
from ops.verify import verify
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo

from .conftest import db_digest


def _with_dirs(info: FixtureInfo, *dirs: Path, running: bool | None = False) -> Host:
    return dataclasses.replace(info.host(running=running), source_dirs=dirs)


@pytest.fixture
def outside(tmp_path: Path, migrated_a: FixtureInfo) -> Path:
    """The pre-migration backup, moved where an operator keeps it (db_backup create -output DIR)."""
    folder = tmp_path / "emergency"
    folder.mkdir()
    src = migrated_a.deployment.backups_dir / str(migrated_a.pre_migration_backup)
    dst = folder / src.name
    shutil.move(src, dst)
    return dst


def test_by_backup_name_is_a_restore(migrated_a: FixtureInfo) -> None:
    res = replace_db(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok" and res.operation == "replace_db" and res.imported_as is None
    assert res.era_after == "pre-migration" and res.pre_restore_backup is not None
    assert res.stopped_proof is not None and res.stopped_proof.method == "controller"


def test_from_an_allowed_folder_is_imported_then_restored(migrated_a: FixtureInfo, outside: Path) -> None:
    digest = sha256_file(outside)
    res = replace_db(_with_dirs(migrated_a, outside.parent), str(outside), expected_sha256=digest)
    assert res.outcome == "ok", res.summary
    assert res.imported_as == outside.name and res.backup_sha256 == digest == res.restored_sha256
    assert res.source_path == str(outside) and outside.is_file()  # the source is never moved or changed
    assert sha256_file(migrated_a.deployment.db_path) == digest
    assert verify(migrated_a.host()).outcome == "ok"  # the baseline is the replaced file's counts
    names = [b.name for b in list_backups(migrated_a.host()).backups]
    assert outside.name in names and res.pre_restore_backup in names


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("relative/pre.db", "source_not_absolute"),
        ("/nonexistent/pre.db", "source_missing"),
        ("OUTSIDE_NOT_ALLOWED", "source_not_allowed"),
        ("LIVE_DB", "source_is_live_db"),
        ("GARBAGE", "backup_invalid"),
        ("BAD_PIN", "backup_checksum_mismatch"),
    ],
)
def test_bad_sources_leave_everything_untouched(
    migrated_a: FixtureInfo, outside: Path, tmp_path: Path, source: str, code: str
) -> None:
    garbage = outside.parent / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(outside, elsewhere / "pre.db")
    real = {
        "OUTSIDE_NOT_ALLOWED": str(elsewhere / "pre.db"),
        "LIVE_DB": str(migrated_a.deployment.db_path),
        "GARBAGE": str(garbage),
        "BAD_PIN": str(outside),
    }.get(source, source)
    pin = "0" * 64 if source == "BAD_PIN" else None
    before = db_digest(migrated_a)
    backups = sorted(p.name for p in migrated_a.deployment.backups_dir.iterdir())
    with pytest.raises(OpInputError) as ei:
        replace_db(_with_dirs(migrated_a, outside.parent), real, expected_sha256=pin)
    assert ei.value.code == code
    assert db_digest(migrated_a) == before
    assert sorted(p.name for p in migrated_a.deployment.backups_dir.iterdir()) == backups


def test_refused_while_running_nothing_imported(migrated_a: FixtureInfo, outside: Path) -> None:
    before = db_digest(migrated_a)
    with pytest.raises(OpRefused) as ei:
        replace_db(_with_dirs(migrated_a, outside.parent, running=True), str(outside))
    assert ei.value.code == "app_running"
    assert db_digest(migrated_a) == before and not (migrated_a.deployment.backups_dir / outside.name).exists()


def test_a_name_taken_by_other_bytes_gets_a_prefixed_copy(migrated_a: FixtureInfo, outside: Path) -> None:
    taken = migrated_a.deployment.backups_dir / outside.name
    fx.make_gofastcdn_backup(migrated_a.root).rename(taken)  # same name, the migrated DB's bytes
    res = replace_db(_with_dirs(migrated_a, outside.parent), str(outside))
    assert res.outcome == "ok" and res.imported_as is not None
    assert res.imported_as.startswith("imported-") and res.imported_as.endswith(outside.name)
    assert sha256_file(migrated_a.deployment.db_path) == sha256_file(outside)
