"""Judge the live main.db, and move a broken one aside (never delete it).

A restore is the way out of a broken DB, so it must not depend on reading it: a missing,
zero-byte, unreadable, non-SQLite or corrupt ``main.db`` (with any journal/WAL beside it) is moved
into ``db_data/quarantine/main.db-<reason>-<UTC time>/`` under its own file names, so the pair can
still be opened (and a journal replayed) with sqlite3 later. The folder is on the same file system
as the DB (rename, no copy), inside the ``db_data`` volume in Docker, and never read by go-fast-cdn.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ops.deployment import Deployment
from ops.errors import OpError
from ops.leftovers import temp_name
from ops.models import DbHealth, DbState, JournalState, QuarantineRecord
from ops.schema import open_ro

SQLITE_MAGIC = b"SQLite format 3\x00"
QUARANTINE_DIR = "quarantine"


def journal_is_harmless(journal: Path) -> bool:
    """Zero-length, or a first byte of zero: SQLite's own rule (pager.c, hasHotJournal) never treats
    those as hot and ignores them. A writer killed before it synced its journal leaves one (magic
    and record count still zero) and has not touched main.db yet, so deleting it loses nothing.
    Unreadable counts as not harmless."""
    try:
        with open(journal, "rb") as f:
            first = f.read(1)
    except OSError:
        return False
    return first in (b"", b"\0")


def sidecar_files(dep: Deployment) -> list[Path]:
    """main.db-journal / -wal / -shm present next to the DB (lexists: a dangling link counts too)."""
    return [p for p in (dep.journal_path, dep.wal_path, dep.shm_path) if os.path.lexists(p)]


def journal_state(dep: Deployment) -> JournalState:
    """``wal``: a -wal/-shm (go-fast-cdn never uses WAL); ``hot``: a journal SQLite would replay;
    ``stale``: an empty journal or one whose first byte is zero; ``none``."""
    if os.path.lexists(dep.wal_path) or os.path.lexists(dep.shm_path):
        return "wal"
    if os.path.lexists(dep.journal_path):
        return "stale" if journal_is_harmless(dep.journal_path) else "hot"
    return "none"


def _integrity(conn: sqlite3.Connection, quick: bool) -> str:
    rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
    return "ok" if [r[0] for r in rows] == ["ok"] else "; ".join(str(r[0]) for r in rows[:5])


def integrity_with_journal(dep: Deployment, *, quick: bool = True) -> str:
    """Integrity of main.db as SQLite would see it after replaying its journal/WAL: replayed on a
    scratch copy in db_data/, so the live files stay untouched. "ok" or the problem."""
    scratch = dep.db_dir / temp_name("journal-check", "")
    scratch.mkdir()
    try:
        copy = scratch / "main.db"
        shutil.copyfile(dep.db_path, copy)
        for side in sidecar_files(dep):
            shutil.copyfile(side, scratch / side.name)
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            return _integrity(conn, quick)
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        return f"unreadable after replaying the journal: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def assess(dep: Deployment, *, quick: bool = True, integrity: bool = True) -> DbHealth:
    """Classify the live main.db. Never writes it; never raises for a bad file.

    ``integrity=False`` judges the file without reading its pages (exists, size, SQLite header,
    journal state): for a caller that integrity-checks a byte-identical copy anyway (backups create)
    and calls ``assess`` again when that copy fails. A hot journal or a WAL still gets the full
    check, because there the copy would not be the DB SQLite sees."""
    db = dep.db_path
    js = journal_state(dep)
    sides = [p.name for p in sidecar_files(dep)]

    def health(state: DbState, detail: str, size: int | None = None) -> DbHealth:
        return DbHealth(state=state, detail=detail, size=size, journal=js, journal_files=sides)

    if not os.path.lexists(db):
        return health("missing", f"{db} does not exist")
    if not db.is_file():
        return health("unreadable", f"{db} is not a regular file")
    size = db.stat().st_size
    if size == 0:
        return health("zero-bytes", f"{db} is zero bytes", 0)
    try:
        with open(db, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return health("unreadable", f"cannot read {db}: {exc}", size)
    if head != SQLITE_MAGIC:
        return health("not-sqlite", f"{db} is not an SQLite file (no SQLite header)", size)
    if js in ("hot", "wal"):
        problem = integrity_with_journal(dep, quick=quick)
        if problem == "ok":
            return health("ok", f"ok once SQLite replays {', '.join(sides)} (not replayed yet)", size)
        return health("corrupt", f"integrity check failed (journal replayed on a copy): {problem}", size)
    if not integrity:
        return health("ok", "header ok; integrity checked on the copy", size)
    try:
        with open_ro(db) as conn:
            problem = _integrity(conn, quick)
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:  # a writer holds it (the app runs): not a verdict on the file
            return health("ok", f"not checked, the DB is busy: {exc}", size)
        return health("unreadable", f"cannot open {db}: {exc}", size)
    except (sqlite3.Error, OSError) as exc:
        return health("corrupt", f"cannot read {db}: {exc}", size)
    if problem != "ok":
        return health("corrupt", f"integrity check failed: {problem}", size)
    return health("ok", "integrity ok", size)


def broken_db_error(health: DbHealth, action: str) -> OpError:
    """The failure a rollback/verify raises on a broken DB: option 2 (restore) is the way out."""
    code = "db_missing" if health.state == "missing" else "db_broken"
    return OpError(
        code,
        f"cannot {action}: main.db is {health.state} ({health.detail}); restore a backup (option 2): "
        "the restore moves the broken file aside and keeps it",
    )


def require_healthy(dep: Deployment, action: str) -> DbHealth:
    """Raise ``db_missing`` / ``db_broken`` (kind failed, not a refusal) unless main.db is usable."""
    health = assess(dep)
    if health.broken:
        raise broken_db_error(health, action)
    return health


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def new_quarantine_folder(dep: Deployment, reason: str) -> Path:
    """``db_data/quarantine/main.db-<reason>-<UTC time>/``, created exclusively (never reused)."""
    base = dep.db_dir / QUARANTINE_DIR
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for n in range(100):
        folder = base / f"main.db-{reason}-{stamp}{f'-{n}' if n else ''}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise OSError("no free quarantine folder name")


def quarantine(
    dep: Deployment, health: DbHealth, operation: str, *, keep_db_in_place: bool = False
) -> QuarantineRecord:
    """Move the journal/WAL/SHM and main.db into a new quarantine folder (renames, same file system).

    With ``keep_db_in_place`` main.db is hard-linked instead of moved (a copy where links are not
    possible), so the live path never goes missing; the caller then replaces it atomically. The
    journal files always move: a hot journal next to the replacement would be replayed into it."""
    folder = new_quarantine_folder(dep, health.state)
    files: list[str] = []
    sizes: dict[str, int] = {}
    for side in sidecar_files(dep):
        sizes[side.name] = side.lstat().st_size
        os.rename(side, folder / side.name)
        files.append(side.name)
    db = dep.db_path
    if os.path.lexists(db):
        sizes[db.name] = db.lstat().st_size
        target = folder / db.name
        if keep_db_in_place and db.is_file():
            try:
                os.link(db, target)
            except OSError:
                try:
                    shutil.copy2(db, target)
                except OSError:  # unreadable: then it has to move
                    os.rename(db, target)
        else:
            os.rename(db, target)
        files.append(db.name)
    record = QuarantineRecord(
        folder=str(folder),
        reason=health.state,
        detail=health.detail,
        files=sorted(files),
        sizes=sizes,
        operation=operation,
        moved_at=datetime.now(UTC),
    )
    (folder / "quarantine.json").write_text(json.dumps(record.model_dump(mode="json"), indent=2))
    _fsync_dir(folder)
    _fsync_dir(dep.db_dir)
    return record
