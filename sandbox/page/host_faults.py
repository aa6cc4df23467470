"""Faults a rehearsal can throw at a sandbox go-fast-cdn host; each one is a real change on disk or a process.

Nothing here tells the agent or the bot that a fault exists: they meet the damaged file, the held
lock, the journal or the stubborn process exactly as they would on a real host.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Literal

from ops.deployment import Deployment
from sandbox.gofastcdn_fixture import JOURNAL_MAGIC
from sandbox.gofastcdn_standin import REFUSES_STOP_FLAG

HostFaultKind = Literal["corrupt_db", "stray_delete", "hold_db", "hot_journal", "refuse_stop"]
HOST_FAULTS: dict[HostFaultKind, str] = {
    "corrupt_db": "Corrupt main.db",
    "stray_delete": "Stray DELETE",
    "hold_db": "Teammate's shell holds the DB",
    "hot_journal": "Hot journal",
    "refuse_stop": "App refuses to stop",
}
TOGGLES: frozenset[HostFaultKind] = frozenset({"hold_db", "hot_journal", "refuse_stop"})

# What a teammate does in `sqlite3 main.db`: BEGIN IMMEDIATE and walk away. The write lock stays
# until the shell exits, so a rollback meets "database is locked" after its busy timeout.
_SHELL = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "print('sqlite> BEGIN IMMEDIATE;', flush=True)\n"
    "sys.stdin.read()\n"
)


class HostFaultError(RuntimeError):
    """A fault could not be applied (e.g. no live image left to delete); the message says why."""


def _read_only(db: Path) -> sqlite3.Connection:
    """Looks at the file without taking locks or replaying journals, so looking changes nothing."""
    return sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)


class HostFaults:
    """The faults applied to one deployment, and the processes they started."""

    def __init__(self, root: Path) -> None:
        self.dep = Deployment(root=Path(root))
        self._lock = threading.Lock()
        self._shell: subprocess.Popen[str] | None = None
        self.last_note = ""

    # -- state ---------------------------------------------------------------------------------
    def active(self) -> dict[HostFaultKind, bool]:
        return {
            "hold_db": self._shell is not None and self._shell.poll() is None,
            "hot_journal": self._hot_journal_present(),
            "refuse_stop": (self.dep.root / REFUSES_STOP_FLAG).exists(),
            "corrupt_db": False,
            "stray_delete": False,
        }

    def _hot_journal_present(self) -> bool:
        try:
            return self.dep.journal_path.read_bytes()[:8] == JOURNAL_MAGIC
        except OSError:
            return False

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, kind: HostFaultKind, on: bool = True) -> str:
        """Apply (or, for toggles, lift) one fault; returns what changed, in words for the page."""
        with self._lock:
            if kind == "corrupt_db":
                note = self._corrupt()
            elif kind == "stray_delete":
                note = self._stray_delete()
            elif kind == "hold_db":
                note = self._hold() if on else self._release()
            elif kind == "hot_journal":
                note = self._journal() if on else self._remove_journal()
            elif kind == "refuse_stop":
                note = self._refuse_stop(on)
            else:
                raise HostFaultError(f"unknown fault {kind!r}")
            self.last_note = note
            return note

    def _corrupt(self) -> str:
        """Overwrite the root pages of `images` and its indexes: the file opens, reading images fails."""
        db = self.dep.db_path
        with _read_only(db) as conn:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            roots = [int(r[0]) for r in conn.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'images'")]
        conn.close()
        if not roots:
            raise HostFaultError("main.db has no images table to corrupt")
        with open(db, "r+b") as f:
            for page in roots:
                f.seek((page - 1) * page_size)
                f.write(b"\xde\xad\xbe\xef" * 64)
        return f"overwrote the start of pages {', '.join(map(str, roots))} (images and its indexes) in {db.name}"

    def _stray_delete(self) -> str:
        db = self.dep.db_path
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute(
                "SELECT id, file_name FROM images WHERE deleted_at IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                raise HostFaultError("no live image left to delete")
            conn.execute("DELETE FROM images WHERE id = ?", (row[0],))
        conn.close()
        return f"DELETE FROM images WHERE id = {row[0]}  -- {row[1]}"

    def _hold(self) -> str:
        if self._shell is not None and self._shell.poll() is None:
            return f"the shell (pid {self._shell.pid}) already holds {self.dep.db_path.name}"
        shell = subprocess.Popen(
            [sys.executable, "-c", _SHELL, str(self.dep.db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert shell.stdout is not None
        first = shell.stdout.readline()  # waits until the lock is really held
        if shell.poll() is not None or "BEGIN" not in first:
            shell.kill()
            raise HostFaultError(f"the shell could not lock the DB: {first.strip() or 'exited'}")
        self._shell = shell
        return f"pid {shell.pid} holds {self.dep.db_path.name} open with BEGIN IMMEDIATE"

    def _release(self) -> str:
        shell, self._shell = self._shell, None
        if shell is None or shell.poll() is not None:
            return "no shell holds the DB"
        assert shell.stdin is not None
        shell.stdin.close()  # the teammate types .quit
        try:
            shell.wait(10)
        except subprocess.TimeoutExpired:
            shell.kill()
            shell.wait(5)
        return f"the shell (pid {shell.pid}) exited; its lock is gone"

    def _journal(self) -> str:
        """A crashed writer's journal: the magic, no records, the DB's real size (replaying it is harmless)."""
        db = self.dep.db_path
        header = db.read_bytes()[:100]
        page_size = int.from_bytes(header[16:18], "big") or 65536
        pages = int.from_bytes(header[28:32], "big")
        body = (
            JOURNAL_MAGIC
            + (0).to_bytes(4, "big")  # records
            + (0x5EED).to_bytes(4, "big")  # checksum nonce
            + pages.to_bytes(4, "big")  # size of the DB before the crashed transaction
            + (512).to_bytes(4, "big")  # sector size
            + page_size.to_bytes(4, "big")
        )
        self.dep.journal_path.write_bytes(body.ljust(512, b"\0"))
        return f"left a hot {self.dep.journal_path.name} (journal magic, {pages} pages)"

    def _remove_journal(self) -> str:
        self.dep.journal_path.unlink(missing_ok=True)
        return f"removed {self.dep.journal_path.name}"

    def _refuse_stop(self, on: bool) -> str:
        flag = self.dep.root / REFUSES_STOP_FLAG
        if on:
            flag.touch()
            return "go-fast-cdn now ignores SIGTERM; only SIGKILL stops it"
        flag.unlink(missing_ok=True)
        return "go-fast-cdn stops on SIGTERM again"

    def close(self) -> None:
        """Lift what keeps running or blocks a shutdown: the shell's lock and the SIGTERM refusal."""
        with self._lock:
            self._release()
            (self.dep.root / REFUSES_STOP_FLAG).unlink(missing_ok=True)
