from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from ops import rollback as rollback_mod
from ops.errors import OpRefused
from ops.gorm_time import parse_gorm_time
from ops.models import MarkerMode
from ops.rollback import rollback
from ops.schema import inspect_file
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


@pytest.mark.parametrize(("running", "code"), [(True, "app_running"), (None, "app_state_unknown")])
def test_refused_while_running_or_unknown(
    migrated_a: FixtureInfo, running: bool | None, code: str, no_proc: Path
) -> None:
    digest = db_digest(migrated_a)
    with pytest.raises(OpRefused) as ei:
        rollback(migrated_a.host(running=running))
    assert ei.value.code == code and "stop" in ei.value.message
    assert db_digest(migrated_a) == digest
    assert list(migrated_a.deployment.backups_dir.iterdir()) == [
        migrated_a.deployment.backups_dir / migrated_a.pre_migration_backup  # type: ignore[operator]
    ]


@pytest.mark.parametrize("name", ["hot", "main.db-wal", "main.db-shm"])
def test_refused_with_hot_journal_or_wal(migrated_a: FixtureInfo, name: str) -> None:
    if name == "hot":
        fx.leave_journal(migrated_a.root, "hot")  # the journal magic: a crashed writer's data
        name = "main.db-journal"
    else:
        (migrated_a.deployment.db_dir / name).write_bytes(b"")  # any -wal/-shm, even empty
    digest = db_digest(migrated_a)
    left = (migrated_a.deployment.db_dir / name).read_bytes()
    with pytest.raises(OpRefused) as ei:
        rollback(migrated_a.host())
    assert ei.value.code == "journal_present" and name in ei.value.message
    assert db_digest(migrated_a) == digest
    assert (migrated_a.deployment.db_dir / name).read_bytes() == left
    assert list(migrated_a.deployment.backups_dir.iterdir()) == [
        migrated_a.deployment.backups_dir / str(migrated_a.pre_migration_backup)
    ]


@pytest.mark.parametrize("kind", ["empty", "zeroed"])
def test_stale_journal_removed_and_rollback_proceeds(migrated_a: FixtureInfo, kind: str) -> None:
    """Exactly like restore: a zero-length or zeroed-header journal is not hot; remove it, warn, go on."""
    fx.leave_journal(migrated_a.root, kind)  # type: ignore[arg-type]
    progress: list[str] = []
    res = rollback(migrated_a.host(), progress=progress.append)
    assert res.outcome == "ok" and res.action == "rollback"
    assert res.removed_journal == "main.db-journal" and not migrated_a.deployment.journal_path.exists()
    assert any("stale main.db-journal" in w for w in res.warnings)
    assert any("removed stale main.db-journal" in p for p in progress)
    assert not inspect_file(migrated_a.deployment.db_path).media_present


def test_stale_journal_removed_on_noop_too(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    fx.leave_journal(info.root, "zeroed")
    res = rollback(info.host())
    assert res.outcome == "noop" and res.removed_journal == "main.db-journal"
    assert not info.deployment.journal_path.exists()


def test_rollback_and_restore_share_one_journal_guard() -> None:
    import ops.backups
    import ops.rollback
    import ops.status

    assert ops.rollback.clear_stale_journal is ops.backups.clear_stale_journal is ops.status.clear_stale_journal


def test_rollback_both_schemas(migrated: FixtureInfo) -> None:
    dep = migrated.deployment
    progress: list[str] = []
    res = rollback(migrated.host(), progress=progress.append)
    assert res.outcome == "ok" and res.action == "rollback"
    expected_idx = "idx_media_file_name" if migrated.schema == "a7396e9" else "idx_media_file_name_type"
    assert res.dropped == sorted(["idx_media_deleted_at", expected_idx]) + ["media"]
    assert res.sequence_row_removed is True
    assert res.marker_before is not None and res.marker_before.state == "live"
    assert res.marker_after is not None and res.marker_after.state == "absent"
    assert (res.counts_before.media_raw, res.counts_after.media_raw) == (6, None)
    assert res.counts_after.images_live == 3 and res.counts_after.images_raw == 4
    # the one upload after the migration is the only lost row, file in uploads/media only
    assert [(r.id, r.file_name, r.type, r.after_migration) for r in res.lost_rows] == [
        (6, "after-migration.png", "image", True)
    ]
    assert res.lost_rows[0].file_on_disk and res.lost_rows[0].file_locations == ["media"]
    assert res.lost_rows[0].created_at is not None
    assert res.missing_files == []
    # backup taken first, baseline recorded
    assert res.backup and (dep.backups_dir / res.backup).is_file()
    assert inspect_file(dep.backups_dir / res.backup).media_present
    base = json.loads((dep.state_dir / "baseline.json").read_text())
    assert (base["images_live"], base["images_raw"], base["docs_live"], base["docs_raw"]) == (3, 4, 2, 2)
    assert base["backup"] == res.backup and base["source"] == "rollback"
    # on the file: media gone, sequence row gone, marker row gone, other tables intact
    conn = sqlite3.connect(dep.db_path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not {"media", "idx_media_deleted_at", expected_idx} & names
    assert "migration_records" in names
    assert conn.execute("SELECT COUNT(*) FROM migration_records").fetchone()[0] == 0
    assert "media" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_sequence")}
    assert not dep.journal_path.exists()
    assert progress and any("backup" in p for p in progress)
    assert "after-migration.png" in res.summary


def test_hard_delete_allows_remigration(migrated: FixtureInfo) -> None:
    rollback(migrated.host())
    assert fx.migrate(migrated.root, schema=migrated.schema) == "migrated"
    st = inspect_file(migrated.deployment.db_path)
    assert st.marker.state == "live" and st.marker.id == 2 and st.counts.media_live == 5


def test_soft_mode_matches_gofastcdn(migrated_a: FixtureInfo) -> None:
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    before = conn.execute("SELECT id, completed, created_at, updated_at FROM migration_records").fetchone()
    conn.close()
    res = rollback(migrated_a.host(), marker_mode="soft")
    assert res.outcome == "ok" and res.marker_after is not None and res.marker_after.state == "soft-deleted"
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    row = conn.execute("SELECT id, completed, created_at, updated_at, deleted_at FROM migration_records").fetchall()
    assert len(row) == 1 and row[0][:4] == before  # updated_at unchanged, completed still 1
    parse_gorm_time(row[0][4])  # GORM datetime text
    assert any("re-migration will fail" in w for w in res.warnings)
    with pytest.raises(sqlite3.IntegrityError, match=r"migration_records\.name"):
        fx.migrate(migrated_a.root, copy_files=False)


def test_same_as_builtin_rollback_on_tables(tmp_path: Path) -> None:
    ours = fx.build_migrated_deployment(tmp_path / "a", uploads_after=())
    theirs = fx.build_migrated_deployment(tmp_path / "b", uploads_after=())
    rollback(ours.host(), marker_mode="soft")
    fx.builtin_rollback(theirs.root)
    a, b = inspect_file(ours.deployment.db_path), inspect_file(theirs.deployment.db_path)
    assert a.tables == b.tables and [i.name for i in a.indexes] == [i.name for i in b.indexes]
    assert a.counts == b.counts and a.era == b.era == "rolled-back"


def test_nothing_to_roll_back_is_noop_without_backup(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    digest = db_digest(info)
    res = rollback(info.host())
    assert res.outcome == "noop" and res.action == "noop" and res.backup is None
    assert "nothing to roll back" in res.summary
    assert list(info.deployment.backups_dir.iterdir()) == []
    assert db_digest(info) == digest


def test_noop_after_builtin_rollback_warns_about_soft_marker(migrated_a: FixtureInfo) -> None:
    fx.builtin_rollback(migrated_a.root)
    res = rollback(migrated_a.host())
    assert res.outcome == "noop" and any("UNIQUE constraint failed" in w for w in res.warnings)


def test_empty_media_recreated_by_tip_binary_is_dropped(migrated_a: FixtureInfo) -> None:
    fx.builtin_rollback(migrated_a.root)
    fx.recreate_empty_media_tip(migrated_a.root)
    res = rollback(migrated_a.host())
    assert res.outcome == "ok" and res.action == "drop-empty-media"
    assert res.dropped == ["idx_media_deleted_at", "idx_media_file_name_type", "media"]
    assert res.lost_rows == [] and "empty media table" in res.summary
    assert res.marker_after is not None and res.marker_after.state == "absent"  # hard mode clears the soft row
    assert fx.migrate(migrated_a.root) == "migrated"


def test_lost_rows_renames_deletes_types_and_missing_files(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, schema="tip", uploads_after=())
    fx.rename_after_migration(info.root, "cat.png", "kitty.png")
    fx.delete_after_migration(info.root, "manual.pdf", table="docs")
    fx.upload_after_migration(info.root, "clip.mp4", media_type="video")
    fx.upload_after_migration(info.root, "via-legacy.png", folder="images")
    fx.remove_file(info.root, "media", "via-legacy.png")
    res = rollback(info.host())
    lost = {r.file_name: r for r in res.lost_rows}
    assert set(lost) == {"kitty.png", "clip.mp4", "via-legacy.png"}
    assert lost["kitty.png"].reason == "renamed from cat.png after the migration"
    assert lost["kitty.png"].file_locations == ["images"]
    assert lost["clip.mp4"].file_locations == ["media"] and "video" in lost["clip.mp4"].reason
    assert lost["via-legacy.png"].file_locations == ["images"] and lost["via-legacy.png"].after_migration
    assert [r.file_name for r in res.deletes_undone] == ["manual.pdf"]
    missing = {(m.table, m.file_name, m.copy_in_media) for m in res.missing_files}
    assert missing == {("images", "cat.png", True), ("docs", "manual.pdf", True)}
    assert any("restore_files can copy 2" in w for w in res.warnings)


def test_unmigrated_soft_deleted_file_with_no_media_copy(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, uploads_after=())
    fx.remove_file(info.root, "images", "dog.jpg")
    fx.remove_file(info.root, "media", "dog.jpg")
    res = rollback(info.host())
    assert [(m.file_name, m.copy_in_media) for m in res.missing_files] == [("dog.jpg", False)]
    assert res.lost_rows == []


def test_live_marker_without_media_is_cleared(migrated_a: FixtureInfo) -> None:
    conn = sqlite3.connect(migrated_a.deployment.db_path)
    conn.execute("DROP TABLE media")
    conn.close()
    res = rollback(migrated_a.host())
    assert res.era_before == "inconsistent" and res.action == "rollback" and res.dropped == []
    assert res.marker_after is not None and res.marker_after.state == "absent"


def test_tip_server_uploads_after_builtin_rollback_are_reported(migrated_a: FixtureInfo) -> None:
    fx.builtin_rollback(migrated_a.root)
    fx.recreate_empty_media_tip(migrated_a.root)
    fx.upload_after_migration(migrated_a.root, "late.png")
    res = rollback(migrated_a.host(), marker_mode="soft")
    assert res.action == "rollback" and [r.file_name for r in res.lost_rows] == ["late.png"]
    assert res.marker_after is not None and res.marker_after.state == "soft-deleted"
    assert inspect_file(migrated_a.deployment.db_path).era == "rolled-back"


def test_not_a_gofastcdn_db_is_refused_before_any_backup(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path)
    with fx.connect(info.root) as conn:
        conn.execute("DROP TABLE docs")
    with pytest.raises(OpRefused) as ei:
        rollback(info.host())
    assert ei.value.code == "not_gofastcdn"
    assert not list(info.deployment.backups_dir.glob("rollback-agent_*"))
    assert inspect_file(info.deployment.db_path).media_present


WHEN = "2024-06-02 10:00:00+00:00"
Applied = tuple[list[str], bool]


def test_the_drop_journals_the_pages_it_rewrites_not_the_table(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's SQLite zeroes every freed page by default (SECURE_DELETE), which journals and
    rewrites the whole media table; the rollback's drop must only journal what it rewrites (the
    freelist, sqlite_master, the marker): the dropped rows are in the safety backup already."""
    dep = migrated_a.deployment
    with fx.connect(migrated_a.root) as conn:
        conn.executemany(
            "INSERT INTO media(created_at, updated_at, file_name, checksum, type) VALUES (?, ?, ?, ?, 'document')",
            [(WHEN, WHEN, f"bulk-{i}.pdf", os.urandom(600)) for i in range(3000)],
        )
    media_bytes = 3000 * 600  # what a scrubbing drop would journal, at least
    journaled: list[int] = []
    real_apply = rollback_mod._apply

    def apply_then_measure(conn: sqlite3.Connection, plan: rollback_mod.RollbackPlan, mode: MarkerMode) -> Applied:
        out = real_apply(conn, plan, mode)
        journaled.append(dep.db_path.with_name(dep.db_path.name + "-journal").stat().st_size)
        return out

    monkeypatch.setattr(rollback_mod, "_apply", apply_then_measure)
    out = rollback_mod.run_rollback_on(dep.db_path, dep, "hard")
    assert out.dropped and not out.after.media_present
    assert journaled and journaled[0] < media_bytes / 10, journaled
