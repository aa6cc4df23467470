"""Restore is the way out of a broken main.db: the broken file is kept aside, never deleted."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from ops.backups import create_backup, restore_backup, sha256_file
from ops.deployment import Deployment
from ops.dry_run import dry_run
from ops.errors import OpError
from ops.quarantine import assess
from ops.rollback import rollback
from ops.status import status
from ops.verify import verify
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo


def corrupt_pages(db: Path) -> None:
    """Keep the SQLite header, overwrite every page after the first with garbage."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for i in range(page, len(data)):
        data[i] = (i * 7 + 13) % 251
    db.write_bytes(bytes(data))


def break_db(dep: Deployment, how: str) -> bytes | None:
    """Break main.db the way an outage does; returns the bytes left in place (None: no file)."""
    db = dep.db_path
    if how == "missing":
        db.unlink()
        return None
    if how == "zero-bytes":
        db.write_bytes(b"")
    elif how == "not-sqlite":
        db.write_bytes(b"\x00garbage from a bad disk\n" * 200)
    elif how == "corrupt":
        corrupt_pages(db)
    elif how == "unreadable":  # a directory where the file should be (root can read any file)
        db.unlink()
        db.mkdir()
        (db / "inside").write_text("x")
        return b"<dir>"
    return db.read_bytes()


BROKEN = ["missing", "zero-bytes", "not-sqlite", "corrupt", "unreadable"]


@pytest.mark.parametrize("how", BROKEN)
def test_assess_names_the_breakage(migrated_a: FixtureInfo, how: str) -> None:
    dep = migrated_a.deployment
    assert assess(dep).state == "ok"
    break_db(dep, how)
    assert assess(dep).state == how


@pytest.mark.parametrize("how", BROKEN)
def test_restore_over_a_broken_db_succeeds_and_keeps_it(migrated_a: FixtureInfo, how: str) -> None:
    dep = migrated_a.deployment
    name = str(migrated_a.pre_migration_backup)
    left = break_db(dep, how)
    res = restore_backup(migrated_a.host(), name)
    assert res.outcome == "ok", res.summary
    assert res.db_state_before == how and res.pre_restore_backup is None
    assert sha256_file(dep.db_path) == sha256_file(dep.backups_dir / name) and res.integrity_after == "ok"
    if how == "missing":
        assert res.quarantine is None and any("missing" in w for w in res.warnings)
        return
    q = res.quarantine
    assert q is not None and q.reason == how and Path(q.folder).parent == dep.db_dir / "quarantine"
    folder = Path(q.folder)
    assert folder.name.startswith(f"main.db-{how}-") and q.files == ["main.db"]
    kept = folder / "main.db"
    if how == "unreadable":
        assert (kept / "inside").read_text() == "x"
    else:
        assert kept.read_bytes() == left  # byte for byte, never deleted
    assert json.loads((folder / "quarantine.json").read_text())["reason"] == how
    assert str(folder) in res.summary and any(str(folder) in w for w in res.warnings)
    assert verify(migrated_a.host()).outcome == "ok"


def test_broken_db_with_hot_journal_keeps_both_together(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    corrupt_pages(dep.db_path)
    journal = fx.leave_journal(migrated_a.root, "hot").read_bytes()
    (dep.db_dir / "main.db-wal").write_bytes(b"wal bytes")
    res = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok" and res.quarantine is not None
    folder = Path(res.quarantine.folder)
    assert sorted(res.quarantine.files) == ["main.db", "main.db-journal", "main.db-wal"]
    assert (folder / "main.db-journal").read_bytes() == journal and (
        folder / "main.db-wal"
    ).read_bytes() == b"wal bytes"
    assert not dep.journal_path.exists() and not dep.wal_path.exists()  # never replayed into the new DB
    assert assess(dep).state == "ok"


def test_journal_beside_a_missing_db_is_kept(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    dep.db_path.unlink()
    fx.leave_journal(migrated_a.root, "hot")
    res = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok" and res.quarantine is not None and res.quarantine.files == ["main.db-journal"]
    assert not dep.journal_path.exists()


def test_healthy_db_with_hot_journal_is_still_refused(migrated_a: FixtureInfo) -> None:
    from ops.errors import OpRefused

    fx.leave_journal(migrated_a.root, "hot")
    with pytest.raises(OpRefused) as ei:
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert ei.value.code == "journal_present" and "recover_journal" in ei.value.message
    assert not (migrated_a.deployment.db_dir / "quarantine").exists()


def test_refusal_checks_still_come_first_on_a_broken_db(migrated_a: FixtureInfo) -> None:
    from ops.errors import OpRefused

    dep = migrated_a.deployment
    dep.db_path.write_bytes(b"")
    with pytest.raises(OpRefused):
        restore_backup(migrated_a.host(running=True), str(migrated_a.pre_migration_backup))
    assert dep.db_path.read_bytes() == b"" and not (dep.db_dir / "quarantine").exists()


@pytest.mark.parametrize("how", ["missing", "zero-bytes", "corrupt"])
def test_rollback_verify_backup_fail_with_a_code_that_points_to_restore(migrated_a: FixtureInfo, how: str) -> None:
    dep = migrated_a.deployment
    break_db(dep, how)
    code = "db_missing" if how == "missing" else "db_broken"
    for op in (rollback, create_backup):
        with pytest.raises(OpError) as ei:
            op(migrated_a.host())
        assert ei.value.code == code and ei.value.kind == "failed" and "option 2" in ei.value.message
    v = verify(migrated_a.host())
    assert v.outcome == "failed" and v.failed_checks == ["db_readable"] and "option 2" in v.summary


@pytest.mark.parametrize("how", ["missing", "zero-bytes", "not-sqlite", "corrupt"])
def test_status_says_what_is_wrong(migrated_a: FixtureInfo, how: str) -> None:
    dep = migrated_a.deployment
    break_db(dep, how)
    st = status(migrated_a.host())
    assert st.outcome == "failed" and st.db_state == how
    assert st.next_step is not None and "restore a backup" in st.next_step
    assert (how if how != "missing" else "no database at") in st.summary


def test_dry_run_restore_over_a_broken_db_says_it_would_move_it_aside(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    dep.db_path.write_bytes(b"")
    res = dry_run(migrated_a.host(), "restore", backup=str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok" and "quarantine" in res.summary and res.era_after == "pre-migration"
    assert dep.db_path.read_bytes() == b"" and not (dep.db_dir / "quarantine").exists()


def test_interrupted_quarantine_then_restore_again_keeps_everything(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dying after the broken DB was linked aside but before the replace: the next restore finishes."""
    from ops import backups

    dep = migrated_a.deployment
    dep.db_path.write_bytes(b"junk" * 10)

    def boom(*a: object, **k: object) -> str:
        raise OSError("killed")

    monkeypatch.setattr(backups, "install_db_file", boom)
    with pytest.raises(OSError):
        restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert dep.db_path.read_bytes() == b"junk" * 10  # still in place (hard-linked aside, not moved)
    monkeypatch.undo()
    res = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert res.outcome == "ok"
    kept = sorted((dep.db_dir / "quarantine").iterdir())
    assert len(kept) == 2 and all((k / "main.db").read_bytes() == b"junk" * 10 for k in kept)


def test_cli_status_and_restore_with_main_db_missing(
    migrated_a: FixtureInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.cli import main

    dep = migrated_a.deployment
    dep.db_path.unlink()
    flags = [
        "--deployment",
        str(dep.root),
        "--controller",
        "process",
        "--pidfile",
        str(dep.root / "app.pid"),
        "--app-command",
        "sleep 600",
    ]
    assert main(["status", *flags]) == 1
    assert "no database at" in capsys.readouterr().out
    name = str(migrated_a.pre_migration_backup)
    assert main(["restore", name, "--yes", "--json", *flags]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"]["db_state_before"] == "missing"
    assert sqlite3.connect(dep.db_path).execute("SELECT COUNT(*) FROM images").fetchone()[0] == 4
    assert os.path.isfile(dep.db_path)


def test_a_locked_db_is_not_called_broken(migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer holding the lock (the app running) must never make a good DB look corrupt."""
    import ops.quarantine as quarantine_module

    def locked(conn: sqlite3.Connection, quick: bool) -> str:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(quarantine_module, "_integrity", locked)
    health = assess(migrated_a.deployment)
    assert health.state == "ok" and "busy" in health.detail
