"""Temp files the agent writes, and the sweep that removes a dead process's ones.

Every temp file (or folder) the agent creates carries ``rollback-agent-<pid>.<start>-<hex>`` in
its name: the writer's pid plus its start time (``/proc/<pid>/stat`` field 22), so a pid reused
after a restart (pid 1 in a container) is not mistaken for the writer. A leftover is *stale* when
that process is gone; only stale ones are removed, so a live writer (another job, a CLI run) is
never disturbed. Temp files of older agent versions (no pid in the name) count as stale once they
have not been touched for ``LEGACY_STALE_AFTER_S``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path

from ops.control.process import proc_stat
from ops.deployment import Deployment
from ops.models import Leftover

TAG = "rollback-agent"
DRY_RUN_PREFIX = f"{TAG}-dryrun-"
LEGACY_STALE_AFTER_S = 3600.0
# .<anything>rollback-agent-<pid>.<start>-<hex>.<part|tmp>[-journal|-wal|-shm] and the dry-run folders
_TAGGED = re.compile(
    rf"^(?:\..*\.{TAG}|{TAG}-dryrun)-(\d+)\.(\d+)-[0-9a-f]+(?:\.(?:part|tmp))?(?:-journal|-wal|-shm)?$"
)
# names older agent versions used: .rollback-agent-<hex>.part, .main.db.rollback-agent-<hex>.tmp, baseline.json.tmp
_LEGACY = re.compile(
    rf"(?:^\.{TAG}-[0-9a-f]{{32}}\.part|\.{TAG}-[0-9a-f]{{32}}\.tmp|^baseline\.json\.tmp)(?:-journal)?$"
)


@lru_cache(maxsize=1)
def _start_ticks(pid: int) -> str:
    return process_start(pid) or "0"


def process_start(pid: int) -> str | None:
    """Start time of a live ``pid`` in clock ticks since boot; None if it is gone, a zombie, or there
    is no /proc."""
    info = proc_stat(pid)
    if info is None or info[0] in ("Z", "X"):
        return None
    return str(info[1])


def process_tag() -> str:
    """``<pid>.<start>`` of this process (forked children get their own)."""
    pid = os.getpid()
    return f"{pid}.{_start_ticks(pid)}"


def temp_name(stem: str, suffix: str = ".tmp") -> str:
    """A recognisable hidden temp name: ``.<stem>.rollback-agent-<pid>.<start>-<hex><suffix>``."""
    return f".{stem}.{TAG}-{process_tag()}-{uuid.uuid4().hex}{suffix}"


def dry_run_prefix() -> str:
    return f"{DRY_RUN_PREFIX}{process_tag()}-{uuid.uuid4().hex[:8]}"


def writer_alive(pid: int, start: str) -> bool:
    """Whether the process that wrote a tagged temp file still runs (same pid AND same start time)."""
    if pid == os.getpid():
        return start in ("0", _start_ticks(pid))
    now = process_start(pid)
    if now is None:
        if Path("/proc/self/stat").exists():
            return False  # /proc works and the pid is gone
        try:  # no /proc: fall back to the pid alone
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return start == "0" or now == start


def _size(p: Path) -> int:
    try:
        if p.is_dir() and not p.is_symlink():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.lstat().st_size
    except OSError:
        return 0


def _classify(p: Path) -> Leftover | None:
    m = _TAGGED.match(p.name)
    if m is not None:
        pid, start = int(m.group(1)), m.group(2)
        stale = not writer_alive(pid, start)
        return Leftover(
            path=str(p), kind="folder" if p.is_dir() else "file", size=_size(p), writer_pid=pid, stale=stale
        )
    if _LEGACY.search(p.name):
        try:
            age = time.time() - p.lstat().st_mtime
        except OSError:
            return None
        return Leftover(path=str(p), kind="file", size=_size(p), stale=age > LEGACY_STALE_AFTER_S)
    return None


def scan_dirs(dep: Deployment) -> list[Path]:
    """Where the agent writes temp files: next to the DB, in backups/, its state dir, the upload
    folders (restore_files), and the system temp dir (dry runs)."""
    return [
        dep.db_dir,
        dep.backups_dir,
        dep.state_dir,
        dep.images_dir,
        dep.docs_dir,
        Path(tempfile.gettempdir()),
    ]


def find_leftovers(dep: Deployment) -> list[Leftover]:
    out: list[Leftover] = []
    tmp = Path(tempfile.gettempdir())
    for folder in scan_dirs(dep):
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for p in entries:
            if folder == tmp and not p.name.startswith(DRY_RUN_PREFIX):
                continue  # in /tmp only our dry-run folders are ours
            item = _classify(p)
            if item is not None:
                out.append(item)
    return out


def sweep(dep: Deployment) -> list[Leftover]:
    """Find every recognisable temp file; remove the stale ones. Returns all found (live ones too,
    flagged ``stale=False``), each saying whether it was removed."""
    found = find_leftovers(dep)
    for item in found:
        if not item.stale:
            continue
        p = Path(item.path)
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
            item.removed = True
        except OSError as exc:
            item.error = str(exc)
    return found


def describe(found: list[Leftover]) -> list[str]:
    """Warning lines for a result: what was removed, what could not be, what a live writer holds."""
    lines: list[str] = []
    removed = [f for f in found if f.removed]
    if removed:
        total = sum(f.size for f in removed)
        lines.append(
            f"removed {len(removed)} temp file(s) left by a crashed agent run ({total} bytes): "
            + ", ".join(Path(f.path).name for f in removed[:5])
            + ("…" if len(removed) > 5 else "")
        )
    for f in found:
        if f.stale and not f.removed:
            lines.append(f"could not remove the stale temp file {f.path}: {f.error}")
    live = [f for f in found if not f.stale]
    if live:
        lines.append(
            f"{len(live)} temp file(s) of a running agent process left alone: "
            + ", ".join(f"{Path(f.path).name} (pid {f.writer_pid})" for f in live[:5])
        )
    return lines
