"""Crash leftovers: recognisable temp names; stale ones (dead writer) removed, live ones never."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ops import leftovers
from ops.agent.jobs import run_call
from ops.leftovers import process_start, sweep, temp_name
from ops.registry import default_registry
from ops.status import status
from sandbox.gofastcdn_fixture import FixtureInfo


def dead_tag() -> str:
    """``<pid>.<start>`` of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    start = process_start(proc.pid)
    proc.kill()
    proc.wait()
    return f"{proc.pid}.{start}"


def test_temp_names_carry_this_process(tmp_path: Path) -> None:
    name = temp_name("main.db", ".tmp")
    assert name.startswith(".main.db.rollback-agent-") and name.endswith(".tmp")
    assert f"-{os.getpid()}." in name
    (tmp_path / name).write_text("x")
    item = leftovers._classify(tmp_path / name)
    assert item is not None and item.writer_pid == os.getpid() and not item.stale


def test_sweep_removes_dead_writers_files_only(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    dead = dead_tag()
    stale = [
        dep.db_dir / f".main.db.rollback-agent-{dead}-abc123.tmp",
        dep.backups_dir / f".backup.rollback-agent-{dead}-abc123.part",
        dep.backups_dir / f".backup.rollback-agent-{dead}-abc123.part-journal",
        dep.state_dir / f".baseline.json.rollback-agent-{dead}-ff.tmp",
    ]
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x" * 100)
    folder = dep.db_dir / f".journal-check.rollback-agent-{dead}-0a"
    folder.mkdir()
    (folder / "main.db").write_bytes(b"copy")
    live = dep.db_dir / temp_name("main.db", ".tmp")
    live.write_bytes(b"being written")
    reused_pid = dep.backups_dir / f".backup.rollback-agent-{os.getpid()}.1-abc.part"  # our pid, other start
    reused_pid.write_bytes(b"old incarnation")
    foreign = [dep.db_dir / "notes.tmp", dep.backups_dir / ".hidden.part", dep.images_dir / "cat.rollback-agent.png"]
    for p in foreign:
        p.write_bytes(b"not ours")
    found = sweep(dep)
    removed = {Path(f.path) for f in found if f.removed}
    assert removed == {*stale, folder, reused_pid}
    assert not any(p.exists() for p in removed)
    assert live.exists() and all(p.exists() for p in foreign)
    (kept,) = [f for f in found if not f.stale]
    assert kept.path == str(live) and not kept.removed
    assert any("removed 6 temp file(s)" in line for line in leftovers.describe(found))


def test_legacy_names_removed_only_when_old(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    old = dep.backups_dir / ".rollback-agent-0123456789abcdef0123456789abcdef.part"
    new = dep.db_dir / ".main.db.rollback-agent-0123456789abcdef0123456789abcdef.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - 2 * leftovers.LEGACY_STALE_AFTER_S
    os.utime(old, (past, past))
    sweep(dep)
    assert not old.exists() and new.exists()


def test_status_reports_and_every_operation_removes(migrated_a: FixtureInfo) -> None:
    dep = migrated_a.deployment
    dead = dead_tag()
    part = dep.backups_dir / f".backup.rollback-agent-{dead}-abc.part"
    part.write_bytes(b"\0" * 4096)
    st = status(migrated_a.host())
    assert [Path(f.path) for f in st.leftovers if f.removed] == [part] and not part.exists()
    assert any("removed 1 temp file(s)" in w for w in st.warnings)
    part.write_bytes(b"\0" * 4096)
    call = default_registry().prepare("backups_list", {})
    outcome, result, _err, _tb = run_call(call, migrated_a.host(), lambda m: None, state_dir=dep.state_dir)
    assert outcome == "ok" and result is not None and result["leftovers_removed"] == [str(part)]
    assert not part.exists()


def test_dry_run_folder_is_recognisable_and_gone(migrated_a: FixtureInfo) -> None:
    import tempfile

    from ops.dry_run import dry_run

    before = {p.name for p in Path(tempfile.gettempdir()).glob("rollback-agent-dryrun-*")}
    dry_run(migrated_a.host(), "rollback")
    after = {p.name for p in Path(tempfile.gettempdir()).glob("rollback-agent-dryrun-*")}
    assert after <= before
    assert leftovers._TAGGED.match(leftovers.dry_run_prefix())
