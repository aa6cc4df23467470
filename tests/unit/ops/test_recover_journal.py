"""recover_journal: a real hot journal from a killed writer, replayed by SQLite with copies kept."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from ops.backups import restore_backup
from ops.errors import OpInputError, OpRefused
from ops.journal import recover_journal
from ops.rollback import rollback
from ops.status import status
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo


def die_mid_transaction(db: Path) -> None:
    """A writer SIGKILLed inside a big transaction that has spilled into main.db: a real hot journal."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            conn = sqlite3.connect(db, isolation_level=None)
            conn.execute("PRAGMA cache_size=5")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM images")
            conn.execute(
                "INSERT INTO docs (file_name, checksum) SELECT 'junk-' || value, randomblob(2000) FROM "
                "json_each((SELECT json_group_array(x) FROM (WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL "
                "SELECT x + 1 FROM r WHERE x < 400) SELECT x FROM r)))"
            )
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_real_hot_journal_is_replayed_with_copies_kept(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    die_mid_transaction(dep.db_path)
    assert dep.journal_path.exists()
    db_before, journal_before = sha(dep.db_path), sha(dep.journal_path)
    st = status(migrated_a.host())
    assert st.hot_journal and st.journal_state == "hot" and st.db_state == "ok"
    assert st.next_step is not None and "recover_journal" in st.next_step
    with pytest.raises(OpRefused) as ei:
        rollback(migrated_a.host())
    assert ei.value.code == "journal_present" and "recover_journal" in ei.value.message
    progress: list[str] = []
    res = recover_journal(migrated_a.host(), progress=progress.append)
    assert res.outcome == "ok", res.summary
    assert res.before.journal_state == "hot" and res.after.journal_state == "none"
    assert [f.name for f in res.before.files] == ["main.db", "main.db-journal"]
    assert [f.name for f in res.after.files] == ["main.db"]
    assert res.integrity_after == "ok" and res.counts_after.images_raw == 4 and res.era_after == "a7396e9-media"
    copies = Path(str(res.copied_to))
    assert copies.parent == dep.db_dir / "quarantine" and copies.name.startswith("main.db-before-journal-recovery-")
    assert sha(copies / "main.db") == db_before and sha(copies / "main.db-journal") == journal_before
    assert not dep.journal_path.exists() and any("replays" in p for p in progress)
    assert not [p for p in dep.db_dir.iterdir() if "rollback-agent" in p.name]
    assert rollback(migrated_a.host()).outcome == "ok"  # the way is clear again


def test_stale_journal_is_just_removed(migrated_a: FixtureInfo) -> None:
    fx.leave_journal(migrated_a.root, "zeroed")
    res = recover_journal(migrated_a.host())
    assert res.outcome == "ok" and res.removed_stale_journal and res.copied_to is None
    assert not migrated_a.deployment.journal_path.exists()


def test_nothing_to_recover_is_noop(migrated_a: FixtureInfo) -> None:
    digest = sha(migrated_a.deployment.db_path)
    res = recover_journal(migrated_a.host())
    assert res.outcome == "noop" and sha(migrated_a.deployment.db_path) == digest


def test_refused_while_app_may_run(migrated_a: FixtureInfo, no_proc: Path) -> None:
    dep = migrated_a.deployment
    die_mid_transaction(dep.db_path)
    digest = sha(dep.journal_path)
    # An "unknown" controller is settled by the open-file scan (ops.stopped); a running one refuses.
    with pytest.raises(OpRefused):
        recover_journal(migrated_a.host(running=True))
    assert sha(dep.journal_path) == digest and not (dep.db_dir / "quarantine").exists()


def test_missing_db_points_to_restore(migrated_a: FixtureInfo) -> None:
    migrated_a.deployment.db_path.unlink()
    with pytest.raises(OpInputError) as ei:
        recover_journal(migrated_a.host())
    assert ei.value.code == "no_database" and "restore" in ei.value.message


def test_corrupt_after_replay_fails_and_restore_is_the_way_out(migrated_a: FixtureInfo) -> None:
    from .test_broken_db import corrupt_pages

    dep = migrated_a.deployment
    corrupt_pages(dep.db_path)
    fx.leave_journal(migrated_a.root, "hot")
    res = recover_journal(migrated_a.host())
    assert res.outcome == "failed" and "option 2" in res.summary and res.copied_to
    restored = restore_backup(migrated_a.host(), str(migrated_a.pre_migration_backup))
    assert restored.outcome == "ok" and restored.db_state_before == "corrupt"


def test_unprovable_stop_can_be_asserted(migrated_a: FixtureInfo, no_proc: Path) -> None:
    dep = migrated_a.deployment
    die_mid_transaction(dep.db_path)
    res = recover_journal(migrated_a.host(running=None), app_stopped_by="cli:ops@box")
    assert res.outcome == "ok", res.summary
    assert res.stopped_proof is not None and res.stopped_proof.method == "asserted"
    assert res.stopped_proof.asserted_by == "cli:ops@box"
