"""Who holds go-fast-cdn's DB open: every process with ``main.db``, its journal or WAL among its fds.

A controller can only speak for the process it started; a server run from a terminal, a forgotten
``sqlite3 main.db`` shell or a cron job holding the file are invisible to it. On Linux every open
file of every process is a link under ``/proc/<pid>/fd``; a match is by device and inode (so bind
mounts and Docker volumes are seen from the host), or by the link text for a file that was replaced
or deleted since it was opened (``... (deleted)``), which still means a live process had it open.

The scan is *conclusive* only if it could look everywhere that matters. A process whose fds we may
not read (another user's, without root) blocks the verdict when its command line names the DB,
the deployment folder or the app's executable; other users' unrelated daemons are only counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from ops.deployment import Deployment
from ops.models import DbHolder

PROC_ENV = "ROLLBACK_AGENT_PROC_ROOT"  # e.g. /host/proc for an agent in a container sharing the host's pids
MAX_CMDLINE = 300
APP_EXECUTABLES = ("main", "go-fast-cdn", "gofastcdn")  # what a go-fast-cdn server is called on disk


class UninspectedProcess(BaseModel):
    """A process whose open files we could not read, and whose command line looks related."""

    pid: int
    cmdline: str
    reason: str


class OpenFileScan(BaseModel):
    """The result of one pass over ``/proc``."""

    available: bool  # /proc with fd links exists here (Linux)
    holders: list[DbHolder] = Field(default_factory=list)
    suspicious: list[UninspectedProcess] = Field(default_factory=list)
    inspected: int = 0  # processes whose fds were read
    uninspected: int = 0  # processes whose fds could not be read (other users, races)
    detail: str = ""

    @property
    def conclusive(self) -> bool:
        """True when the scan can prove nobody holds the DB (if it found nobody)."""
        return self.available and not self.suspicious


def _cmdline(proc: Path) -> str:
    try:
        raw = (proc / "cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    return text if len(text) <= MAX_CMDLINE else text[: MAX_CMDLINE - 3] + "..."


def _uid(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def _targets(dep: Deployment) -> tuple[dict[tuple[int, int], str], dict[str, str]]:
    """(dev, inode) -> name for the files that exist now, and resolved path text -> name for all."""
    by_inode: dict[tuple[int, int], str] = {}
    by_path: dict[str, str] = {}
    for p in (dep.db_path, dep.journal_path, dep.wal_path, dep.shm_path):
        real = os.path.realpath(p)
        by_path[real] = p.name
        by_path[str(p)] = p.name
        try:
            st = os.stat(p)
        except OSError:
            continue
        by_inode[(st.st_dev, st.st_ino)] = p.name
    return by_inode, by_path


def _looks_related(cmdline: str, dep: Deployment) -> bool:
    """Could this process be go-fast-cdn or a shell on its DB? Judged from the command line only."""
    if not cmdline:
        return False
    root = str(dep.root)
    if "main.db" in cmdline or root in cmdline or str(dep.db_dir) in cmdline:
        return True
    argv0 = cmdline.split(" ", 1)[0]
    return os.path.basename(argv0) in APP_EXECUTABLES


def _pids(proc_dir: Path) -> list[Path]:
    try:
        entries = list(os.scandir(proc_dir))
    except OSError:
        return []
    return [Path(e.path) for e in entries if e.name.isdigit()]


def proc_root() -> Path:
    return Path(os.environ.get(PROC_ENV) or "/proc")


def scan_db_holders(dep: Deployment, *, root: Path | None = None, exclude_pids: Iterable[int] = ()) -> OpenFileScan:
    """Every process (except this one and ``exclude_pids``) holding the DB files open."""
    proc_dir = root or proc_root()
    pids = _pids(proc_dir)
    if not pids:
        return OpenFileScan(
            available=False, detail=f"{proc_dir} lists no processes: no way to see who holds the DB here"
        )
    if not (proc_dir / "1").is_dir():
        return OpenFileScan(
            available=False,
            detail=f"pid 1 is not visible in {proc_dir} (mounted with hidepid?): other users' processes cannot be seen",
        )
    skip = {os.getpid(), *exclude_pids}
    by_inode, by_path = _targets(dep)
    holders: list[DbHolder] = []
    suspicious: list[UninspectedProcess] = []
    inspected = uninspected = 0
    for proc in pids:
        pid = int(proc.name)
        if pid in skip:
            continue
        fd_dir = proc / "fd"
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            continue  # exited meanwhile
        except OSError as exc:
            uninspected += 1
            cmd = _cmdline(proc)
            if _looks_related(cmd, dep):
                why = exc.strerror or type(exc).__name__
                suspicious.append(UninspectedProcess(pid=pid, cmdline=cmd, reason=f"cannot read its fds: {why}"))
            continue
        inspected += 1
        held: set[str] = set()
        for fd in fds:
            link = fd_dir / fd
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if not target.startswith("/"):
                continue  # socket:[..], pipe:[..], anon_inode:..
            name = by_path.get(target.removesuffix(" (deleted)"))
            if name is None and by_inode:
                try:
                    st = os.stat(link)
                except OSError:
                    continue
                name = by_inode.get((st.st_dev, st.st_ino))
            if name is not None:
                held.add(name)
        if held:
            holders.append(DbHolder(pid=pid, cmdline=_cmdline(proc), files=sorted(held), uid=_uid(proc)))
    holders.sort(key=lambda h: h.pid)
    if holders:
        detail = "; ".join(h.describe() for h in holders)
    elif suspicious:
        detail = "cannot read the open files of " + "; ".join(f"pid {s.pid} ({s.cmdline})" for s in suspicious)
    else:
        detail = (
            f"no process holds {dep.db_path.name} or its journal/WAL ({inspected} processes checked via {proc_dir})"
        )
        if uninspected:
            detail += f"; {uninspected} other users' processes unreadable, none naming the DB or the app"
    return OpenFileScan(
        available=True,
        holders=holders,
        suspicious=suspicious,
        inspected=inspected,
        uninspected=uninspected,
        detail=detail,
    )
