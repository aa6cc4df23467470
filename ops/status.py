"""What state a deployment is in right now (read-only), plus the guards the writing ops share."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from ops.control.base import AppState
from ops.deployment import Deployment
from ops.errors import OpRefused
from ops.host import Host
from ops.leftovers import describe, sweep
from ops.models import DbHealth, StatusResult, utcnow
from ops.quarantine import assess, journal_is_harmless, sidecar_files
from ops.schema import inspect_file
from ops.stopped import StoppedProof, effective_state, observe, prove_stopped

__all__ = ["journal_is_harmless"]  # re-exported: the journal rule lives in ops.quarantine


def journal_files(dep: Deployment) -> list[Path]:
    """main.db-journal / -wal / -shm present next to the DB (go-fast-cdn uses DELETE mode, so any of
    them means a writer is active or died mid-transaction)."""
    return sidecar_files(dep)


def app_state(host: Host) -> AppState:
    """The controller, the API probe and the open-file scan together (ops.stopped)."""
    return effective_state(host)


def require_stopped(host: Host, action: str, *, asserted_by: str | None = None) -> StoppedProof:
    """Refuse unless the app is proven stopped (or, where nothing can prove it, asserted); the proof
    says how, for the operation's result."""
    return prove_stopped(host, action, asserted_by=asserted_by)


def journal_blockers(dep: Deployment) -> list[Path]:
    """Files next to the DB that make a write unsafe: any -wal/-shm, and a journal unless harmless."""
    return [p for p in journal_files(dep) if not (p == dep.journal_path and journal_is_harmless(p))]


def stale_journal_warning(name: str) -> str:
    return f"removed a stale {name} (empty or first byte zero: SQLite never replays it)"


def clear_stale_journal(dep: Deployment, action: str) -> str | None:
    """The one journal guard of every writing operation (rollback, restore).

    Refuse (nothing touched) when a hot journal (journal magic), a -wal or a -shm lies next to the
    DB: it may hold a crashed writer's data. A zero-length or zero-first-byte ``main.db-journal`` is
    not hot: remove it and return its name (the caller reports it as a warning)."""
    if journal_blockers(dep):
        names = ", ".join(p.name for p in journal_files(dep))
        raise OpRefused(
            "journal_present",
            f"refusing to {action}: {names} next to the DB (a writer is active or crashed mid-transaction and "
            "it may hold its data); with go-fast-cdn stopped, run recover_journal (`rollback-agent "
            "recover-journal`): it keeps a copy, lets SQLite replay the journal and checks integrity",
        )
    if dep.journal_path.exists():
        dep.journal_path.unlink()
        return dep.journal_path.name
    return None


# --- Docker layout ---------------------------------------------------------------------------------
DOCKER_ROOT = Path("/app")
DOCKERENV = Path("/.dockerenv")
MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape_mount(path: str) -> str:
    """mountinfo writes space, tab, newline and backslash as a backslash and three octal digits."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mount_points(mountinfo: Path | None = None) -> set[str]:
    """Mount points listed in /proc/self/mountinfo (field 5); empty if unreadable."""
    try:
        text = (mountinfo or MOUNTINFO).read_text()
    except OSError:
        return set()
    out: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            out.add(_unescape_mount(fields[4]))
    return out


def on_a_mount(path: Path, mounts: set[str]) -> bool:
    """Whether ``path`` or one of its ancestors below ``/`` is a mount point (a volume or bind mount).
    A missing folder is judged by its nearest existing ancestor (it would be created there)."""
    p = Path(os.path.abspath(path))
    for candidate in (p, *p.parents):
        if str(candidate) == candidate.anchor:
            break
        if str(candidate) in mounts or (candidate.exists() and os.path.ismount(candidate)):
            return True
    return False


def docker_layout_warnings(dep: Deployment) -> list[str]:
    """Under a Docker-like layout (deployment root /app, or /.dockerenv present), warn for backups/
    and .rollback-agent/ unless they sit on a mount: go-fast-cdn's compose file mounts only
    db_data/ and uploads/, so anything else dies with the container."""
    if not (Path(os.path.abspath(dep.root)) == DOCKER_ROOT or DOCKERENV.exists()):
        return []
    mounts = mount_points()
    off = [d for d in (dep.backups_dir, dep.state_dir) if not on_a_mount(d, mounts)]
    if not off:
        return []
    names = " and ".join(f"{d.name}/ ({d})" for d in off)
    return [
        f"Docker layout: {names} {'is' if len(off) == 1 else 'are'} not on a volume (go-fast-cdn's compose "
        "file mounts only db_data/ and uploads/): backups and the agent's state are lost when the container "
        "is re-created; mount a volume there"
    ]


def _next_step(health: DbHealth) -> str | None:
    if health.broken:
        return (
            f"main.db is {health.state}: restore a backup (option 2); the restore moves the broken file "
            "aside into db_data/quarantine/ and keeps it"
        )
    if health.journal in ("hot", "wal"):
        return (
            f"{', '.join(health.journal_files)} left by a crashed writer: with go-fast-cdn stopped, run "
            "recover_journal (it keeps a copy, lets SQLite replay the journal, checks integrity)"
        )
    return None


def status(host: Host) -> StatusResult:
    """Report app state, files, DB health and schema era. The DB is opened read-only (a hot journal is
    replayed on a scratch copy to judge it); the only write is removing a dead agent run's temp files."""
    started = utcnow()
    dep = host.deployment
    obs = observe(host)
    st = obs.state()
    found = sweep(dep)
    health = assess(dep)
    jf = health.journal_files
    res = StatusResult(
        outcome="ok",
        summary="",
        started_at=started,
        app_running=st.running,
        app_detail=st.detail,
        db_holders=obs.scan.holders,
        db_path=str(dep.db_path),
        db_exists=dep.db_path.is_file(),
        db_size=health.size,
        journal_files=jf,
        db_state=health.state,
        db_detail=health.detail,
        journal_state=health.journal,
        hot_journal=health.journal in ("hot", "wal"),
        leftovers=found,
        next_step=_next_step(health),
    )
    res.warnings += describe(found)
    if jf:
        res.warnings.append(
            f"{', '.join(jf)} present next to the DB"
            + (" (hot: run recover_journal)" if res.hot_journal else " (stale: empty or first byte zero)")
        )
    res.warnings += docker_layout_warnings(dep)
    app_txt = {True: "running", False: "stopped", None: "state unknown"}[st.running]
    if health.broken:
        res.outcome = "failed"
        res.error = (
            "database file missing"
            if health.state == "missing"
            else f"cannot read database: main.db is {health.state} ({health.detail})"
        )
        res.summary = (
            f"app {app_txt}; no database at {dep.db_path}"
            if health.state == "missing"
            else f"app {app_txt}; main.db {health.state}: {health.detail}"
        ) + "; restore a backup (option 2)"
        res.finished_at = utcnow()
        return res
    try:
        info = inspect_file(dep.db_path)
    except sqlite3.Error as exc:
        res.outcome = "failed"
        res.error = f"cannot read database: {exc}"
        res.summary = f"app {app_txt}; database unreadable: {exc}" + (
            f"; {', '.join(jf)} present: run recover_journal" if res.hot_journal else ""
        )
        res.finished_at = utcnow()
        return res
    res.tables, res.indexes, res.schema_era = info.tables, info.indexes, info.era
    res.media_schema, res.marker, res.counts = info.media_schema, info.marker, info.counts
    res.migration_records_present = info.migration_records_present
    c = info.counts
    media_txt = "no media" if c.media_raw is None else f"media {c.media_live} live/{c.media_raw} raw"
    res.summary = (
        f"app {app_txt}; era {info.era}; marker {info.marker.state}; images {c.images_live}/{c.images_raw}, "
        f"docs {c.docs_live}/{c.docs_raw} (live/raw); {media_txt}" + (f"; {', '.join(jf)} present" if jf else "")
    )
    res.finished_at = utcnow()
    return res
