"""SIGKILL the agent at random points during restore and rollback; the data must always survive.

Each trial runs the operation exactly as the agent's job thread does (``run_call``: registry, the
deployment lock, the leftovers sweep) in a child process from a fork server, and kills it with a
real SIGKILL: either at a random Python line of ``ops/`` (line tracing, so every step is reachable)
or after a random delay (so kills also land inside SQLite/C calls: copies, fsyncs, COMMIT). Then:
the live DB, as SQLite sees it (any hot journal replayed on a copy), is entirely the old or the new
state with integrity ok; every safety backup the agent published is intact and holds the old state
(and one exists whenever the live DB is already the new one); and after the next run of the
operation (via ``recover_journal`` first when the kill left a hot journal) no temp file is left.
The seed is printed on failure; ``ROLLBACK_FAULT_SEED`` replays a run.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

TRIALS = 20
# kills that must land per test; a trial whose kill point comes after its run ended (a timed kill
# past the end, a line count that came out shorter) still gets every check but doesn't count, and
# another one is drawn, up to this many trials in all
MAX_TRIALS = TRIALS * 3
OPS_DIR = str(Path(__file__).resolve().parents[2] / "ops")
# Read-only, and its line count depends on how many processes the machine runs (the /proc scan of
# who holds main.db): not traced, nor anything it calls, so a reference run and a trial run count
# the same lines whatever else runs on the machine.
UNTRACED = (str(Path(OPS_DIR) / "openfiles.py"),)
SEED = int(os.environ.get("ROLLBACK_FAULT_SEED", str(int(time.time()) % 100000)))

_ctx = mp.get_context("forkserver")
# everything a child needs, imported once in the fork server (this module too: the child's target lives here)
_ctx.set_forkserver_preload(
    [
        "pytest",
        "ops.agent.jobs",
        "ops.registry",
        "ops.backups",
        "ops.rollback",
        "ops.journal",
        "sandbox.gofastcdn_fixture",
        __name__,
    ]
)


def _child(root: str, operation: str, args: dict[str, Any], kill_at_line: int, out: Connection) -> None:
    """Run one operation like an agent job; SIGKILL itself before the ``kill_at_line``-th line of ops/."""
    from ops.agent.jobs import run_call
    from ops.registry import default_registry
    from sandbox.gofastcdn_fixture import make_host

    lines = 0
    untraced_depth = 0  # > 0 while inside an UNTRACED module's frame (and whatever it calls)

    def leave_untraced(frame: Any, event: str, arg: Any) -> Any:
        nonlocal untraced_depth
        if event == "return":  # also when the frame unwinds on an exception
            untraced_depth -= 1
        return leave_untraced

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal lines, untraced_depth
        if frame.f_code.co_filename in UNTRACED:
            untraced_depth += 1
            return leave_untraced
        if untraced_depth or not frame.f_code.co_filename.startswith(OPS_DIR):
            return None
        if event == "line":
            lines += 1
            if lines == kill_at_line:
                os.kill(os.getpid(), signal.SIGKILL)
        return tracer

    call = default_registry().prepare(operation, args)
    host = make_host(Path(root))
    out.send(("ready",))
    started = time.monotonic()
    if kill_at_line >= 0:
        sys.settrace(tracer)
    outcome, _result, error, _tb = run_call(call, host, lambda m: None, state_dir=Path(root) / ".rollback-agent")
    sys.settrace(None)
    out.send((lines, time.monotonic() - started, outcome, error.code if error else None))


def run_child(
    root: Path, operation: str, args: dict[str, Any], *, kill_at_line: int = -1, kill_after_s: float | None = None
) -> tuple[Any, ...] | None:
    """Run the child; returns what it reported, or None if it was killed."""
    recv, send = _ctx.Pipe(duplex=False)
    proc = _ctx.Process(target=_child, args=(str(root), operation, args, kill_at_line, send))
    proc.start()
    send.close()
    assert recv.poll(60) and recv.recv() == ("ready",), "child did not start"
    if kill_after_s is not None:  # timed from the start of the operation, not of the process
        time.sleep(kill_after_s)
        proc.kill()
    proc.join(60)
    assert proc.exitcode is not None, "child hung"
    try:
        report = recv.recv() if recv.poll(0) else None
    except EOFError:
        report = None
    recv.close()
    if proc.exitcode == -signal.SIGKILL:
        return None
    assert proc.exitcode == 0 and report is not None, f"child exited {proc.exitcode}"
    return tuple(report)


# --- what SQLite sees -----------------------------------------------------------------------------
def logical(db: Path, scratch: Path) -> tuple[str, str]:
    """(integrity, dump) of ``db`` as SQLite sees it: copied with any -journal/-wal and opened
    read-write on the copy, so a hot journal is replayed there and the live files stay untouched."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    copy = scratch / db.name
    shutil.copyfile(db, copy)
    for side in ("-journal", "-wal"):
        if Path(str(db) + side).exists():
            shutil.copyfile(str(db) + side, str(copy) + side)
    conn = sqlite3.connect(copy)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    shutil.rmtree(scratch)
    return integrity, dump


def leftover_names(root: Path) -> list[str]:
    from ops.deployment import Deployment
    from ops.leftovers import find_leftovers

    dep = Deployment(root=root)
    found = [Path(f.path).name for f in find_leftovers(dep) if str(root) in f.path]
    tagged = [
        p.name
        for d in (dep.db_dir, dep.backups_dir, dep.state_dir)
        if d.is_dir()
        for p in d.iterdir()
        if ".rollback-agent-" in p.name or p.name.endswith((".part", ".tmp"))
    ]
    return sorted(set(found + tagged))


def next_run(root: Path, operation: str, args: dict[str, Any]) -> list[str]:
    """The operator's next run, in-process like a fresh agent; recover_journal first if refused for it."""
    from ops.agent.jobs import run_call
    from ops.registry import default_registry
    from sandbox.gofastcdn_fixture import make_host

    host = make_host(root)
    state = root / ".rollback-agent"
    done: list[str] = []
    outcome, _r, error, tb = run_call(
        default_registry().prepare(operation, args), host, lambda m: None, state_dir=state
    )
    if error is not None and error.code == "journal_present":
        rec, r2, err2, _tb2 = run_call(
            default_registry().prepare("recover_journal", {}), host, lambda m: None, state_dir=state
        )
        assert rec == "ok", (err2, r2)
        done.append("recover_journal")
        outcome, _r, error, tb = run_call(
            default_registry().prepare(operation, args), host, lambda m: None, state_dir=state
        )
    assert outcome in ("ok", "noop"), (outcome, error, tb)
    done.append(f"{operation}:{outcome}")
    return done


def check_safety_backups(root: Path, label: str, old: str, live_is_new: bool, scratch: Path, why: str) -> int:
    """Every published ``label`` backup holds the old state, integrity ok, sidecar hash matching."""
    from ops.backups import sha256_file

    found = sorted((root / "backups").glob(f"rollback-agent_*_{label}.db"))
    for b in found:
        integrity, dump = logical(b, scratch)
        assert integrity == "ok" and dump == old, f"{why}: safety backup {b.name} is not the old DB"
        sidecar = b.with_name(b.name + ".json")
        if sidecar.exists():
            import json

            assert json.loads(sidecar.read_text())["sha256"] == sha256_file(b), f"{why}: sidecar of {b.name}"
    if live_is_new:
        assert found, f"{why}: the live DB is new but no {label} safety backup exists"
    return len(found)


def kill_points(rng: random.Random, lines: int, duration: float) -> Iterator[tuple[str, float]]:
    """Alternating: a random line in the next of TRIALS/2 equal slices of the run (so every phase is
    hit), and a random delay within the measured duration (a kill inside C calls). Endless: timed
    kills that come after the run ended do not count, the caller draws again."""
    half = TRIALS // 2
    for i in itertools.count():
        lo = 1 + (i % half) * lines // half
        yield "line", float(rng.randint(lo, max(lo, (i % half + 1) * lines // half)))
        yield "time", rng.uniform(0, duration)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sandbox.gofastcdn_fixture import build_migrated_deployment

    root = tmp_path_factory.mktemp("faults") / "template"
    build_migrated_deployment(root)
    return root


def _fault_trials(template: Path, tmp_path: Path, operation: str, label: str) -> dict[str, int]:
    from sandbox.gofastcdn_fixture import make_host

    rng = random.Random(f"{SEED}-{operation}")
    scratch = tmp_path / "scratch"
    backup = sorted(p.name for p in (template / "backups").glob("db_backup_*.db"))[0]
    args: dict[str, Any] = {"backup": backup} if operation == "restore" else {}
    old = logical(template / "db_data" / "main.db", scratch)[1]
    # the new state, and how long/how many lines an uninterrupted run takes
    ref = tmp_path / "reference"
    shutil.copytree(template, ref)
    report = run_child(ref, operation, args, kill_at_line=0)  # traced, never killed: counts lines
    assert report is not None and report[2] == "ok", report
    lines = int(report[0])
    timed = run_child(shutil.copytree(template, tmp_path / "reference2"), operation, args)
    assert timed is not None
    new = logical(ref / "db_data" / "main.db", scratch)[1]
    assert new != old
    stats = {"old": 0, "new": 0, "journal_recovered": 0, "leftovers_swept": 0, "killed": 0}
    points = kill_points(rng, lines, float(timed[1]))
    for i in range(MAX_TRIALS):
        if stats["killed"] == TRIALS:
            break
        mode, point = next(points)
        root = tmp_path / f"trial-{i}"
        shutil.copytree(template, root)
        why = f"seed {SEED} {operation} trial {i}: kill at {mode} {point:.4g} of {lines} lines / {timed[1]:.3f}s"
        if mode == "line":
            got = run_child(root, operation, args, kill_at_line=int(point))
        else:
            got = run_child(root, operation, args, kill_after_s=point)
        stats["killed"] += got is None
        db = root / "db_data" / "main.db"
        assert db.is_file(), f"{why}: main.db is gone"
        integrity, dump = logical(db, scratch)
        assert integrity == "ok", f"{why}: integrity {integrity}"
        assert dump in (old, new), f"{why}: the live DB is neither the old nor the new state"
        state = "new" if dump == new else "old"
        stats[state] += 1
        check_safety_backups(root, label, old, dump == new, scratch, why)
        stats["leftovers_swept"] += bool(leftover_names(root))
        done = next_run(root, operation, args)
        stats["journal_recovered"] += "recover_journal" in done
        assert leftover_names(root) == [], f"{why}: temp files left after the next run ({done})"
        live = db.stat().st_ino
        shared = [p.name for p in (root / "backups").glob("*.db") if p.stat().st_ino == live]
        assert shared == [], f"{why}: backups still a hard link to main.db after the next run ({done})"
        integrity, dump = logical(db, scratch)
        assert integrity == "ok" and dump == new, f"{why}: the next run did not reach the new state ({done})"
        assert make_host(root).deployment.db_path.is_file()
        shutil.rmtree(root)
    assert stats["killed"] == TRIALS, stats
    return stats


def test_sigkill_during_restore(template: Path, tmp_path: Path) -> None:
    stats = _fault_trials(template, tmp_path, "restore", "pre-restore")
    print(f"restore faults (seed {SEED}): {stats}")


def test_sigkill_during_rollback(template: Path, tmp_path: Path) -> None:
    stats = _fault_trials(template, tmp_path, "rollback", "pre-rollback")
    print(f"rollback faults (seed {SEED}): {stats}")


def test_sigkill_the_serving_agent_mid_restore_then_restart(template: Path, tmp_path: Path) -> None:
    """The whole agent process (HTTP server, job thread) SIGKILLed right after accepting a restore:
    on restart the job is closed as interrupted (never re-run), the DB is old or new, and the next
    restore through the API leaves no temp file."""
    from ops.client import AgentClient
    from tests.e2e.test_agent_harness import SECRET, start_agent

    rng = random.Random(f"{SEED}-serve")
    scratch = tmp_path / "scratch"
    backup = sorted(p.name for p in (template / "backups").glob("db_backup_*.db"))[0]
    old = logical(template / "db_data" / "main.db", scratch)[1]
    new = logical(template / "backups" / backup, scratch)[1]
    for trial in range(2):
        root = shutil.copytree(template, tmp_path / f"serve-{trial}")
        agent = start_agent(root, tmp_path / f"agent-{trial}.log")
        c = AgentClient(agent.url, SECRET, "e2e-bot", timeout_s=5, retries=1)
        job = c.submit("restore", {"backup": backup}, f"kill-{trial}")
        time.sleep(rng.uniform(0, 0.05))
        agent.proc.kill()
        agent.proc.wait(10)
        integrity, dump = logical(root / "db_data" / "main.db", scratch)
        assert integrity == "ok" and dump in (old, new), f"seed {SEED} serve trial {trial}"
        again = start_agent(root, tmp_path / f"agent-{trial}b.log")
        try:
            c = AgentClient(again.url, SECRET, "e2e-bot", timeout_s=5, retries=1)
            first = c.job(job.job_id)
            assert first.state == "finished" and first.outcome in ("ok", "error", "refused"), first
            if first.outcome == "error":
                assert first.error is not None and first.error.code == "agent_restarted"
            done = c.run("restore", {"backup": backup}, f"next-{trial}", poll_s=0.05, deadline_s=60)
            assert done.outcome == "ok", done
        finally:
            again.stop()
        assert leftover_names(root) == [] and logical(root / "db_data" / "main.db", scratch)[1] == new


def test_sigkill_during_restore_over_a_garbage_db(template: Path, tmp_path: Path) -> None:
    """Killed while moving a garbage main.db aside and installing the backup: main.db is always the
    garbage or the backup, and every quarantined copy of it is byte for byte the garbage."""
    rng = random.Random(f"{SEED}-garbage")
    scratch = tmp_path / "scratch"
    garbage = b"\x00not a database, a disk error\n" * 300
    backup = sorted(p.name for p in (template / "backups").glob("db_backup_*.db"))[0]
    args = {"backup": backup}
    broken = tmp_path / "broken-template"
    shutil.copytree(template, broken)
    (broken / "db_data" / "main.db").write_bytes(garbage)
    new = logical(broken / "backups" / backup, scratch)[1]
    ref = shutil.copytree(broken, tmp_path / "reference")
    report = run_child(ref, "restore", args, kill_at_line=0)
    assert report is not None and report[2] == "ok", report
    lines = int(report[0])
    killed = 0
    missed: list[str] = []  # kill points past the end of their run: what that run counted instead
    for trial in range(MAX_TRIALS):
        if killed == TRIALS:
            break
        root = shutil.copytree(broken, tmp_path / f"garbage-{trial}")
        point = rng.randint(1, lines)
        why = f"seed {SEED} garbage trial {trial}: kill at line {point} of {lines}"
        got = run_child(root, "restore", args, kill_at_line=point)
        killed += got is None
        if got is not None:
            missed.append(f"line {point}: the run counted {got[0]} lines")
        db = root / "db_data" / "main.db"
        assert db.read_bytes() == garbage or logical(db, scratch) == ("ok", new), why
        for kept in (root / "db_data" / "quarantine").glob("*/main.db"):
            assert kept.read_bytes() == garbage, f"{why}: {kept} is not the garbage byte for byte"
        next_run(root, "restore", args)
        assert leftover_names(root) == [] and logical(db, scratch) == ("ok", new), why
        assert list((root / "db_data" / "quarantine").glob("*/main.db")), f"{why}: the garbage was not kept"
        shutil.rmtree(root)
    assert killed == TRIALS, f"seed {SEED}: {killed} kills landed in {MAX_TRIALS} trials; missed: {missed}"
