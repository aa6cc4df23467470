from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ops import backups
from ops.agent.jobs import run_call
from ops.backups import create_backup, restore_backup, sha256_file
from ops.deployment import Deployment
from ops.errors import OpInputError, OpRefused
from ops.registry import default_registry
from ops.verify import verify
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


def test_restore_pre_migration_backup(migrated: FixtureInfo) -> None:
    dep = migrated.deployment
    name = migrated.pre_migration_backup
    assert name is not None
    src_sha = sha256_file(dep.backups_dir / name)
    res = restore_backup(migrated.host(), name)
    assert res.outcome == "ok", res.summary
    assert res.backup_sha256 == res.restored_sha256 == src_sha == sha256_file(dep.db_path)
    assert res.integrity_after == "ok" and res.era_after == "pre-migration"
    assert res.counts_before.media_raw == 6 and res.counts_after.media_raw is None
    assert res.marker_after is not None and res.marker_after.state == "absent"
    pre = dep.backups_dir / str(res.pre_restore_backup)
    assert pre.is_file() and sha256_file(pre) == res.pre_restore_sha256
    assert sqlite3.connect(pre).execute("SELECT COUNT(*) FROM media").fetchone()[0] == 6
    base = json.loads((dep.state_dir / "baseline.json").read_text())
    assert (base["source"], base["backup"], base["images_raw"]) == ("restore", name, 4)
    assert verify(migrated.host()).outcome == "ok"
    assert not list(dep.db_dir.glob("*.tmp"))


@pytest.mark.parametrize(("running", "code"), [(True, "app_running"), (None, "app_state_unknown")])
def test_refused_while_running(migrated_a: FixtureInfo, running: bool | None, code: str, no_proc: Path) -> None:
    digest = db_digest(migrated_a)
    with pytest.raises(OpRefused) as ei:
        restore_backup(migrated_a.host(running=running), str(migrated_a.pre_migration_backup))
    assert ei.value.code == code
    assert db_digest(migrated_a) == digest


@pytest.mark.parametrize(
    ("arg", "code"),
    [
        ("/etc/passwd", "backup_path_outside"),
        ("../db_data/main.db", "backup_path_outside"),
        ("..", "backup_path_outside"),
        ("old/db_backup_20250101-000000.db", "backup_path_outside"),
        ("", "backup_path_outside"),
        ("escape.db", "backup_path_outside"),  # symlink pointing outside
        ("nope.db", "backup_missing"),
        ("db_backup_20250101-000000.db", "backup_invalid"),  # garbage
        ("empty.db", "backup_not_gofastcdn"),  # a valid but empty SQLite file
        ("tampered.db", "backup_checksum_mismatch"),
    ],
)
def test_bad_backup_arguments_leave_db_untouched(migrated_a: FixtureInfo, arg: str, code: str) -> None:
    dep = migrated_a.deployment
    fx.write_garbage_backup(migrated_a.root, "db_backup_20250101-000000.db")
    (dep.backups_dir / "escape.db").symlink_to(dep.db_path)
    (dep.backups_dir / "empty.db").write_bytes(b"")
    tampered = create_backup(migrated_a.host(), label="x")
    os.rename(dep.backups_dir / tampered.name, dep.backups_dir / "tampered.db")
    os.rename(dep.backups_dir / tampered.sidecar, dep.backups_dir / "tampered.db.json")
    conn = sqlite3.connect(dep.backups_dir / "tampered.db")
    conn.execute("DELETE FROM docs")
    conn.commit()
    conn.close()
    before = dep.db_path.read_bytes()
    listing = sorted(p.name for p in dep.backups_dir.iterdir())
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), arg)
    assert ei.value.code == code, ei.value.message
    assert dep.db_path.read_bytes() == before
    assert sorted(p.name for p in dep.backups_dir.iterdir()) == listing  # no pre-restore backup either


def test_symlink_inside_backups_is_allowed(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    (dep.backups_dir / "latest.db").symlink_to(dep.backups_dir / str(migrated_a.pre_migration_backup))
    assert restore_backup(migrated_a.host(), "latest.db").outcome == "ok"


def test_hot_journal_refused(migrated_a: FixtureInfo) -> None:
    fx.leave_journal(migrated_a.root, "hot")
    digest = db_digest(migrated_a)
    with pytest.raises(OpRefused) as ei:
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert ei.value.code == "journal_present"
    assert db_digest(migrated_a) == digest and migrated_a.deployment.journal_path.exists()


def test_wal_refused(migrated_a: FixtureInfo) -> None:
    (migrated_a.deployment.db_dir / "main.db-wal").write_bytes(b"")
    with pytest.raises(OpRefused) as ei:
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert ei.value.code == "journal_present"


@pytest.mark.parametrize("kind", ["empty", "zeroed"])
def test_harmless_journal_removed(migrated_a: FixtureInfo, kind: str) -> None:
    fx.leave_journal(migrated_a.root, kind)  # type: ignore[arg-type]
    res = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok" and res.removed_journal == "main.db-journal"
    assert not migrated_a.deployment.journal_path.exists()
    assert any("stale main.db-journal" in w for w in res.warnings)


def test_atomic_replace_from_temp_in_db_data(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        calls.append((str(a), str(b)))
        real(a, b)

    monkeypatch.setattr(backups.os, "replace", spy)
    restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    db = migrated_a.deployment.db_path
    to_db = [c for c in calls if c[1] == str(db)]
    assert len(to_db) == 1
    assert Path(to_db[0][0]).parent == db.parent and to_db[0][0].endswith(".tmp")


def test_crash_before_replace_leaves_old_db(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(a: object, b: object) -> None:
        raise OSError("disk full")

    digest = db_digest(migrated_a)
    monkeypatch.setattr(backups.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert db_digest(migrated_a) == digest
    assert not list(migrated_a.deployment.db_dir.glob("*.tmp"))


def test_post_migration_backup_warns(migrated_a: FixtureInfo) -> None:
    b = create_backup(migrated_a.host())
    res = restore_backup(migrated_a.host(), b.name)
    assert res.outcome == "ok" and any("not a pre-migration backup" in w for w in res.warnings)


# --- pinning the backup's SHA-256 -----------------------------------------------------------------------
def test_pinned_sha256_mismatch_leaves_everything_untouched(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    fx.leave_journal(migrated_a.root, "zeroed")  # not even the stale journal is removed
    name = str(migrated_a.pre_migration_backup)
    real = sha256_file(dep.backups_dir / name)
    before = dep.db_path.read_bytes()
    listing = sorted(p.name for p in dep.backups_dir.iterdir())
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), name, expected_sha256="ab" * 32)
    assert ei.value.code == "backup_checksum_mismatch"
    assert real in ei.value.message and "ab" * 32 in ei.value.message
    assert dep.db_path.read_bytes() == before  # byte-identical
    assert sorted(p.name for p in dep.backups_dir.iterdir()) == listing  # no pre-restore backup
    assert dep.journal_path.exists() and not (dep.state_dir / "baseline.json").exists()


def test_pinned_sha256_match_restores_and_is_reported(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    name = str(migrated_a.pre_migration_backup)
    real = sha256_file(dep.backups_dir / name)
    progress: list[str] = []
    res = restore_backup(migrated_a.host(), name, expected_sha256=real.upper(), progress=progress.append)
    assert res.outcome == "ok" and res.expected_sha256 == real == res.backup_sha256 == res.restored_sha256
    assert "pinned" in res.summary and any("pinned" in p for p in progress)
    assert sha256_file(dep.db_path) == real
    unpinned = restore_backup(migrated_a.host(), name)
    assert unpinned.expected_sha256 is None and "pinned" not in unpinned.summary


def test_pinned_sha256_must_be_hex(migrated_a: FixtureInfo) -> None:
    before = db_digest(migrated_a)
    with pytest.raises(OpInputError) as ei:
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup), expected_sha256="abc")
    assert ei.value.code == "bad_sha256" and db_digest(migrated_a) == before


def test_backup_changing_after_its_check_is_never_installed(tmp_path: Path) -> None:
    src, dst = tmp_path / "b.db", tmp_path / "main.db"
    src.write_bytes(b"new bytes")
    dst.write_bytes(b"live bytes")
    with pytest.raises(OpInputError) as ei:
        backups.install_db_file(src, dst, expect_sha256="0" * 64)
    assert ei.value.code == "backup_checksum_mismatch"
    assert dst.read_bytes() == b"live bytes" and sorted(p.name for p in tmp_path.iterdir()) == ["b.db", "main.db"]


def test_rolled_back_backup_warns_it_is_not_pre_migration(migrated_a: FixtureInfo) -> None:
    from ops.rollback import rollback

    rollback(migrated_a.host())
    b = create_backup(migrated_a.host(), label="emergency")
    res = restore_backup(migrated_a.host(), b.name)
    assert res.outcome == "ok"
    assert any("rolled-back DB (migration_records present), not a pre-migration backup" in w for w in res.warnings)


@pytest.mark.parametrize("case", ["pinned_mismatch", "garbage_backup", "hot_journal", "no_db_data"])
def test_refusals_leave_no_staged_copy(migrated_a: FixtureInfo, case: str) -> None:
    """The backup is staged beside main.db before its gates run: a refusal removes it (and db_data/
    if the restore made it), so a refused restore leaves the DB's folder as it found it."""
    dep = migrated_a.deployment
    name = str(migrated_a.pre_migration_backup)
    kwargs: dict[str, str] = {}
    if case == "pinned_mismatch":
        kwargs["expected_sha256"] = "ab" * 32
    elif case == "garbage_backup":
        name = fx.write_garbage_backup(migrated_a.root).name
    elif case == "hot_journal":
        fx.leave_journal(migrated_a.root, "hot")
    else:
        fx.write_garbage_backup(migrated_a.root)
        name = "db_backup_20250101-000000.db"
        for p in dep.db_dir.iterdir():
            p.unlink()
        dep.db_dir.rmdir()
    listing = sorted(p.name for p in dep.db_dir.iterdir()) if dep.db_dir.exists() else None
    with pytest.raises((OpInputError, OpRefused)):
        restore_backup(migrated_a.host(), name, **kwargs)  # type: ignore[arg-type]
    assert (sorted(p.name for p in dep.db_dir.iterdir()) if dep.db_dir.exists() else None) == listing


# --- the pre-restore backup: the replaced file itself, hard-linked, read once -----------------------
def test_pre_restore_backup_is_the_replaced_file_linked_and_restorable(migrated: FixtureInfo) -> None:
    dep = migrated.deployment
    old_inode, old_sha = dep.db_path.stat().st_ino, sha256_file(dep.db_path)
    res = restore_backup(migrated.host(), str(migrated.pre_migration_backup))
    assert res.outcome == "ok", res.summary
    pre = dep.backups_dir / str(res.pre_restore_backup)
    assert pre.stat().st_ino == old_inode != dep.db_path.stat().st_ino  # no copy: the old file itself
    assert pre.stat().st_nlink == 1  # main.db no longer shares it
    assert res.pre_restore_sha256 == old_sha == sha256_file(pre)
    side = json.loads(pre.with_name(pre.name + ".json").read_text())
    assert side["sha256"] == old_sha and side["integrity"] == "ok (quick_check)"
    assert side["source_counts"]["media_raw"] == 6 and side["source_marker"] == "live"
    listed = {b.name: b for b in backups.list_backups(migrated.host()).backups}
    assert listed[pre.name].valid and listed[pre.name].sidecar_sha256 == old_sha
    back = restore_backup(migrated.host(), pre.name, expected_sha256=old_sha)  # and it restores
    assert back.outcome == "ok" and sha256_file(dep.db_path) == old_sha
    assert back.counts_after.media_raw == 6


def test_pre_restore_backup_copied_where_links_fail(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """backups/ on another file system (EXDEV): the replaced DB is copied and checked as before."""
    dep = migrated_a.deployment
    old_sha = sha256_file(dep.db_path)

    def no_link(src: object, dst: object, **kw: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("ops.backups.os.link", no_link)
    res = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok", res.summary
    pre = dep.backups_dir / str(res.pre_restore_backup)
    side = json.loads(pre.with_name(pre.name + ".json").read_text())
    assert sha256_file(pre) == res.pre_restore_sha256 == old_sha and side["integrity"] == "ok"
    assert "method" not in side


def _commit_from_another_process(db: Path) -> str:
    """POSIX locks are per process (SQLite coordinates its own connections in-process), so the
    writer must be another process to see whether this one's read lock is really held."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute(\"INSERT INTO configs VALUES ('lock-probe', 'x')\")\n"
        "try:\n    c.execute('COMMIT'); print('committed')\n"
        "except sqlite3.OperationalError as e:\n    print(e)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True).stdout


def test_replaced_db_survey_holds_the_read_lock_until_closed(migrated_a: FixtureInfo) -> None:
    """The hash is read through its own descriptor: closing one would drop this process's POSIX
    locks, SQLite's read lock included, and a commit could then change the bytes between the hash
    and the link."""
    dep = migrated_a.deployment
    digest = sha256_file(dep.db_path)  # before: this open/close would drop the lock too
    replaced = backups.ReplacedDb(dep)
    try:
        assert replaced.sha256 == digest and replaced.counts is not None
        assert "locked" in _commit_from_another_process(dep.db_path)
    finally:
        replaced.close()
    assert _commit_from_another_process(dep.db_path).strip() == "committed"


# --- a restore stopped between keeping the replaced DB (a hard link) and replacing it ----------------
def _linked_to_main_db(dep: Deployment) -> list[str]:
    live = dep.db_path.stat()
    return [p.name for p in dep.backups_dir.glob("*.db") if p.stat().st_ino == live.st_ino]


def _keep_without_replacing(info: FixtureInfo) -> Path:
    """What a SIGKILL right after the pre-restore link leaves: the link and its sidecar, main.db not replaced."""
    replaced = backups.ReplacedDb(info.deployment)
    try:
        pre = backups.keep_replaced_db(info.host(), replaced)
    finally:
        replaced.close()
    assert _linked_to_main_db(info.deployment) == [pre.name]
    return info.deployment.backups_dir / pre.name


def test_a_failed_replace_leaves_no_backup_that_is_main_db(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the pre-restore "backup" stayed a second name for main.db: the next write by
    go-fast-cdn changed it too, and its sidecar's hash no longer described it."""
    dep = migrated_a.deployment
    digest = db_digest(migrated_a)

    def no_rename(*a: object, **kw: object) -> str:
        raise OSError("rename failed")

    monkeypatch.setattr(backups, "install_db_file", no_rename)
    lines: list[str] = []
    with pytest.raises(OSError, match="rename failed"):
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup), progress=lines.append)
    assert db_digest(migrated_a) == digest and _linked_to_main_db(dep) == []
    (pre,) = dep.backups_dir.glob("rollback-agent_*_pre-restore.db")
    assert sha256_file(pre) == digest == json.loads(pre.with_name(pre.name + ".json").read_text())["sha256"]
    assert any("is now a copy of its own" in line for line in lines), lines


def test_the_next_operation_gives_a_killed_restores_link_a_copy_of_its_own(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    pre = _keep_without_replacing(migrated_a)
    digest = sha256_file(pre)
    call = default_registry().prepare("status", {})
    outcome, result, _err, _tb = run_call(call, migrated_a.host(), lambda m: None, state_dir=dep.state_dir)
    assert outcome == "ok" and result is not None
    assert [w for w in result["warnings"] if pre.name in w] == [
        f"backups/{pre.name} was still a hard link to main.db (a restore stopped before replacing it): it is "
        f"now a copy of its own, sha256 {digest[:12]}… as recorded"
    ]
    assert _linked_to_main_db(dep) == [] and pre.stat().st_nlink == 1 and sha256_file(pre) == digest
    _commit(dep.db_path)  # go-fast-cdn writes again: the backup keeps what it recorded
    assert sha256_file(pre) == digest != sha256_file(dep.db_path)
    listed = {b.name: b for b in backups.list_backups(migrated_a.host()).backups}
    assert listed[pre.name].valid and listed[pre.name].sidecar_sha256 == digest


def test_a_link_whose_bytes_changed_since_is_reported_and_left(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    pre = _keep_without_replacing(migrated_a)
    recorded = sha256_file(pre)
    _commit(dep.db_path)  # the app was started again and wrote, through the shared inode
    lines = backups.separate_db_links(dep)
    assert len(lines) == 1 and "no longer holds the bytes its sidecar records" in lines[0]
    assert recorded[:12] in lines[0] and _linked_to_main_db(dep) == [pre.name]
    assert not [p for p in dep.backups_dir.iterdir() if p.name.endswith(".part")]


def test_one_name_for_main_db_costs_one_stat(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backups.Path, "glob", lambda *a, **kw: pytest.fail("listed backups/"))
    assert backups.separate_db_links(migrated_a.deployment) == []


def _commit(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS written_later (x)")
        conn.commit()
    finally:
        conn.close()
