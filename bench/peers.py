"""The peer pipelines every agent operation is compared with: standard tools doing the same job.

Each one is a shell pipeline of the sqlite3 CLI and coreutils, run in the deployment folder, timed
from start to exit, with the peak RSS of its largest process (``wait4``). They skip what the agent
adds for safety beyond the same bytes (sidecars, audit, reports), so a ratio near 1.0 means the agent
runs at the speed of the tools an operator would use by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ops.deployment import Deployment
from ops.schema import MARKER_NAME


class PeerFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class PeerRun:
    seconds: float
    maxrss_kib: int


GNU_TIME = "/usr/bin/time"


def ensure_tools() -> None:
    """The Debian ``sqlite3`` CLI and GNU ``time`` (peak RSS of a pipeline), installed with apt-get
    when missing and we are root; otherwise a clear error naming the packages."""
    missing = [pkg for pkg, cmd in (("sqlite3", "sqlite3"), ("time", GNU_TIME)) if not shutil.which(cmd)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PeerFailed(f"missing Debian package(s) {', '.join(missing)}: apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    if not shutil.which("sqlite3") or not shutil.which(GNU_TIME):
        raise PeerFailed(f"apt-get install {' '.join(missing)} did not provide sqlite3 and {GNU_TIME}")


def run_shell(script: str, cwd: Path) -> PeerRun:
    """Run ``script`` under ``bash -e -o pipefail``; PeerFailed on a non-zero exit.

    GNU time sits between us and bash because Linux carries a process's peak RSS across ``exec``:
    measured straight from this (large) Python process, every peer would inherit its size."""
    with tempfile.NamedTemporaryFile("r", prefix="peer-rss-") as rss_file:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, "bash", "-e", "-o", "pipefail", "-c", script],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
        seconds = time.perf_counter() - t0
        rss_text = rss_file.read().strip().splitlines()
    if proc.returncode != 0:
        raise PeerFailed(f"peer pipeline failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
    if b"FAIL" in proc.stdout:
        raise PeerFailed(f"peer pipeline check failed: {proc.stdout.decode(errors='replace')[-300:]}")
    return PeerRun(seconds=seconds, maxrss_kib=int(rss_text[-1]) if rss_text else 0)


def _q(p: Path | str) -> str:
    return "'" + str(p).replace("'", "'\\''") + "'"


def _integrity(db: str) -> str:
    return f'test "$(sqlite3 {db} "PRAGMA integrity_check")" = ok || echo FAIL integrity'


PEER_BACKUP = "backups/peer-backup.db"


def backup_script() -> str:
    """``.backup`` + ``sha256sum`` + ``integrity_check`` (what ``backups create`` does)."""
    return "\n".join(
        [
            f"sqlite3 db_data/main.db \".backup '{PEER_BACKUP}'\"",
            f"sha256sum {PEER_BACKUP} >/dev/null",
            _integrity(PEER_BACKUP),
        ]
    )


def rollback_sql_script(dep: Deployment, *, secure_delete: str | None = None) -> str:
    """The sqlite3 CLI running the rollback's writes in one transaction: as Debian builds it
    (``SECURE_DELETE``: every freed page overwritten, so journaled), or with ``PRAGMA
    secure_delete`` set as the agent's drop does (FAST), for the bench's report of what that saves."""
    pragma = f"PRAGMA secure_delete={secure_delete}; " if secure_delete else ""
    sql = pragma + (
        "BEGIN IMMEDIATE; DROP INDEX IF EXISTS idx_media_deleted_at; DROP INDEX IF EXISTS idx_media_file_name; "
        "DROP INDEX IF EXISTS idx_media_file_name_type; DROP TABLE media; "
        "DELETE FROM sqlite_sequence WHERE name='media'; "
        f"DELETE FROM migration_records WHERE name='{MARKER_NAME}'; COMMIT;"
    )
    return f"sqlite3 db_data/main.db {_q(sql)}"


def restore_script(backup: str) -> str:
    """``cp`` + ``sync`` + ``mv`` + ``sha256sum`` + ``integrity_check`` (what ``restore`` does)."""
    tmp = "db_data/.peer-restore.tmp"
    return "\n".join(
        [
            f"cp {_q('backups/' + backup)} {tmp}",
            f"sync {tmp}",
            f"mv {tmp} db_data/main.db",
            "sync db_data",
            "sha256sum db_data/main.db >/dev/null",
            _integrity("db_data/main.db"),
        ]
    )


def verify_script() -> str:
    """sqlite3 ``COUNT`` of images/docs (live and raw) + ``stat`` of every live row's file."""
    counts = (
        "SELECT COUNT(*) FROM images WHERE deleted_at IS NULL; SELECT COUNT(*) FROM images; "
        "SELECT COUNT(*) FROM docs WHERE deleted_at IS NULL; SELECT COUNT(*) FROM docs;"
    )
    names = (
        "SELECT 'uploads/images/' || file_name FROM images WHERE deleted_at IS NULL; "
        "SELECT 'uploads/docs/' || file_name FROM docs WHERE deleted_at IS NULL;"
    )
    return "\n".join(
        [
            f"sqlite3 db_data/main.db {_q(counts)} >/dev/null",
            f"sqlite3 db_data/main.db {_q(names)} | tr '\\n' '\\0' | xargs -0 stat --printf='' ",
        ]
    )
