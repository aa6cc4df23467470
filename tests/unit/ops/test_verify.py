from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from ops.errors import OpInputError
from ops.rollback import rollback
from ops.verify import verify
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


def _check(res: object, name: str) -> tuple[bool, str]:
    c = next(c for c in res.checks if c.name == name)  # type: ignore[attr-defined]
    return c.passed, c.detail


def test_passes_after_good_rollback(migrated: FixtureInfo) -> None:
    rollback(migrated.host())
    digest = db_digest(migrated)
    res = verify(migrated.host(running=True))
    assert res.outcome == "ok", res.summary
    assert [c.name for c in res.checks] == [
        "media_absent",
        "media_indexes_absent",
        "kept_tables_present",
        "no_live_marker",
        "counts_match_baseline",
        "legacy_files_present",
    ]
    assert all(c.passed for c in res.checks) and res.failed_checks == []
    assert res.baseline_source == "baseline.json"
    assert db_digest(migrated) == digest


def test_baseline_from_backup(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    (migrated_a.deployment.state_dir / "baseline.json").unlink()
    res = verify(migrated_a.host(), baseline_backup=migrated_a.pre_migration_backup)
    assert res.outcome == "ok" and res.baseline_source == f"backup:{migrated_a.pre_migration_backup}"
    with pytest.raises(OpInputError) as ei:
        verify(migrated_a.host(), baseline_backup="../db_data/main.db")
    assert ei.value.code == "backup_path_outside"


def test_no_baseline_anywhere_is_inconclusive(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    res = verify(info.host())
    assert res.outcome == "inconclusive" and res.failed_checks == []
    assert res.inconclusive_checks == ["counts_match_baseline"]
    chk = next(c for c in res.checks if c.name == "counts_match_baseline")
    assert chk.inconclusive and not chk.passed and "no baseline" in chk.detail and "--baseline" in chk.detail
    assert res.summary.startswith("verify INCONCLUSIVE")


def test_inconclusive_never_hides_a_failure(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path)
    (info.deployment.backups_dir / str(info.pre_migration_backup)).unlink()  # no baseline anywhere
    res = verify(info.host())
    assert res.outcome == "failed" and "media_absent" in res.failed_checks
    assert res.inconclusive_checks == ["counts_match_baseline"]


def test_after_gofastcdn_builtin_rollback_uses_its_db_backup(migrated: FixtureInfo) -> None:
    """Option 1 done by hand with go-fast-cdn's own tool: no baseline.json, only its db_backup_*.db."""
    fx.builtin_rollback(migrated.root)
    assert not (migrated.deployment.state_dir / "baseline.json").exists()
    res = verify(migrated.host())
    chk = next(c for c in res.checks if c.name == "counts_match_baseline")
    assert chk.passed, chk.detail
    assert res.baseline_source == f"newest-pre-migration:{migrated.pre_migration_backup}"
    assert f"the newest pre-migration backup {migrated.pre_migration_backup}" in chk.detail
    assert any("newest pre-migration backup" in w for w in res.warnings)
    assert res.outcome == "ok", res.summary


def test_newest_pre_migration_backup_is_the_one_used(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 1, 10, 0, 0))  # 3 images: older
    fx.add_image(info.root, "late.png")  # 4 live images from now on
    newest = fx.make_gofastcdn_backup(info.root, datetime(2025, 7, 2, 10, 0, 0))
    res = verify(info.host())
    assert res.baseline_source == f"newest-pre-migration:{newest.name}" and res.outcome == "ok"
    fx.soft_delete_row(info.root, "images", "late.png")
    res = verify(info.host())
    assert res.outcome == "failed" and res.failed_checks == ["counts_match_baseline"]


def test_sqlite3_view_prints_what_the_checklist_commands_print(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    res = verify(migrated_a.host())
    db = str(migrated_a.deployment.db_path)
    assert [c.command for c in res.sqlite3] == [
        f'sqlite3 {db} ".tables"',
        f'sqlite3 {db} "SELECT COUNT(*) FROM images;"',
        f'sqlite3 {db} "SELECT COUNT(*) FROM docs;"',
    ]
    tables = res.sqlite3[0].output.split()
    assert "media" not in tables and {"images", "docs", "configs", "users"} <= set(tables)
    assert not any(t.startswith("sqlite_") for t in tables)
    # raw counts, soft-deleted rows included (what sqlite3 prints), not GORM's live counts
    assert (res.sqlite3[1].output, res.sqlite3[2].output) == (str(migrated_a.images_raw), str(migrated_a.docs_raw))


def test_fails_when_counts_differ(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    fx.soft_delete_row(migrated_a.root, "docs", "notes.txt")
    res = verify(migrated_a.host())
    assert res.failed_checks == ["counts_match_baseline"]
    assert "docs_live 1 != 2" in _check(res, "counts_match_baseline")[1]


def test_fails_when_file_missing(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    fx.remove_file(migrated_a.root, "images", "dog.jpg")
    res = verify(migrated_a.host())
    assert res.failed_checks == ["legacy_files_present"]
    assert "uploads/images/dog.jpg (copy in uploads/media)" in _check(res, "legacy_files_present")[1]
    assert [(m.file_name, m.copy_in_media) for m in res.missing_files] == [("dog.jpg", True)]


def test_fails_when_media_present_and_marker_live(migrated_a: FixtureInfo) -> None:
    # before any rollback: media present, live marker, no baseline
    res = verify(migrated_a.host())
    assert set(res.failed_checks) == {
        "media_absent",
        "media_indexes_absent",
        "no_live_marker",
    }
    # no baseline.json yet: the go-fast-cdn db_backup_*.db taken before the migration is the baseline
    assert res.baseline_source == f"newest-pre-migration:{migrated_a.pre_migration_backup}"
    assert "idx_media_file_name" in _check(res, "media_indexes_absent")[1]


def test_fails_on_tip_recreated_empty_media(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host(), marker_mode="soft")
    fx.recreate_empty_media_tip(migrated_a.root)
    res = verify(migrated_a.host())
    assert res.failed_checks == ["media_absent", "media_indexes_absent"]


def test_fails_on_live_marker_only(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host(), marker_mode="soft")
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    conn.execute("UPDATE migration_records SET deleted_at = NULL")
    conn.commit()
    conn.close()
    res = verify(migrated_a.host())
    assert res.failed_checks == ["no_live_marker"]


def test_missing_kept_table(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    conn.execute("DROP TABLE configs")
    conn.close()
    res = verify(migrated_a.host())
    assert res.failed_checks == ["kept_tables_present"] and "configs" in res.summary


@pytest.mark.parametrize("table", ["user_sessions", "password_resets"])
def test_kept_tables_include_sessions_and_resets(migrated_a: FixtureInfo, table: str) -> None:
    rollback(migrated_a.host())
    ok = verify(migrated_a.host())
    detail = _check(ok, "kept_tables_present")[1]
    for t in ("user_sessions", "password_resets", "sqlite_sequence"):
        assert t in detail
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    conn.execute(f"DROP TABLE {table}")
    conn.close()
    res = verify(migrated_a.host())
    assert res.failed_checks == ["kept_tables_present"] and f"missing: {table}" in _check(res, "kept_tables_present")[1]


def test_fixture_dbs_have_every_kept_table(migrated: FixtureInfo) -> None:
    from ops.schema import KEPT_TABLES, inspect_file

    assert {"user_sessions", "password_resets", "sqlite_sequence"} <= set(KEPT_TABLES)
    assert set(KEPT_TABLES) <= set(inspect_file(migrated.deployment.db_path).tables)
    backup = migrated.deployment.backups_dir / str(migrated.pre_migration_backup)
    assert set(KEPT_TABLES) <= set(inspect_file(backup).tables)


def test_soft_deleted_marker_passes_with_a_warning(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host(), marker_mode="soft")
    res = verify(migrated_a.host())
    assert res.outcome == "ok"
    assert any("UNIQUE migration_records.name until this row is hard-deleted" in w for w in res.warnings)
    hard = fx.build_migrated_deployment(migrated_a.root.parent / "hard")
    rollback(hard.host())
    assert not any("hard-deleted" in w for w in verify(hard.host()).warnings)


def test_counts_detail_names_the_baseline(migrated_a: FixtureInfo) -> None:
    rollback(migrated_a.host())
    res = verify(migrated_a.host())
    base = res.baseline
    assert base is not None
    detail = _check(res, "counts_match_baseline")[1]
    assert base.recorded_at.isoformat(timespec="seconds") in detail
    assert "by rollback" in detail and f"backup {base.backup}" in detail and "baseline.json" in detail
    assert not any("baseline from" in w for w in res.warnings)
    fx.soft_delete_row(migrated_a.root, "docs", "notes.txt")
    assert "recorded " in _check(verify(migrated_a.host()), "counts_match_baseline")[1]


def test_old_baseline_warns(migrated_a: FixtureInfo) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    rollback(migrated_a.host())
    path = migrated_a.deployment.state_dir / "baseline.json"
    data = json.loads(path.read_text())
    old = datetime.now(UTC) - timedelta(hours=25)
    data["recorded_at"] = old.isoformat()
    path.write_text(json.dumps(data))
    res = verify(migrated_a.host())
    assert res.outcome == "ok"
    expected = f"baseline from {old.isoformat(timespec='seconds')}"
    assert any(w.startswith(expected) and "pass --baseline BACKUP" in w for w in res.warnings), res.warnings
    pinned = verify(migrated_a.host(), baseline_backup=migrated_a.pre_migration_backup)
    assert not any("baseline from" in w for w in pinned.warnings)
