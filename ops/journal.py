"""``recover_journal``: the one safe step for a hot journal a crashed writer left beside main.db.

SQLite itself rolls a hot journal back the first time a read-write connection reads the DB; the
only conditions are that nobody else has the DB open (the app is stopped) and that the journal
stays next to its DB. So: prove the app is stopped, copy main.db and its journal/WAL aside
untouched (``db_data/quarantine/main.db-before-journal-recovery-<time>/``), open the live DB read-write
so SQLite replays the journal, run ``PRAGMA integrity_check``, and report the files and the schema
before and after. A zero-length journal or one whose first byte is zero is not hot: it is just removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.errors import OpInputError
from ops.host import Host
from ops.leftovers import temp_name
from ops.models import Counts, DbFiles, FileFacts, RecoverJournalResult, utcnow
from ops.quarantine import journal_state, new_quarantine_folder, sidecar_files
from ops.schema import inspect
from ops.status import require_stopped

Progress = Callable[[str], None] | None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _side(host: Host) -> DbFiles:
    dep = host.deployment
    files = [dep.db_path, *sidecar_files(dep)] if dep.db_path.is_file() else sidecar_files(dep)
    return DbFiles(
        files=[FileFacts(name=p.name, size=p.stat().st_size, sha256=_sha256(p)) for p in files if p.is_file()],
        journal_state=journal_state(dep),
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover_journal(
    host: Host, *, app_stopped_by: str | None = None, progress: Progress = None
) -> RecoverJournalResult:
    """Replay a hot journal (or checkpoint a WAL) into main.db with the app stopped; copies kept."""
    started = utcnow()
    dep = host.deployment

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    proof = require_stopped(host, "recover the journal", asserted_by=app_stopped_by)
    if not dep.db_path.is_file():
        raise OpInputError(
            "no_database",
            f"{dep.db_path} does not exist, so there is nothing to replay a journal into; restore a backup "
            "(option 2): the restore keeps any journal left beside the missing DB",
        )
    warnings: list[str] = []
    before = _side(host)

    def result(**kw: Any) -> RecoverJournalResult:
        return RecoverJournalResult(started_at=started, before=before, warnings=warnings, stopped_proof=proof, **kw)

    if before.journal_state == "none":
        return result(outcome="noop", summary="no journal next to main.db: nothing to recover", after=before)
    if before.journal_state == "stale":
        dep.journal_path.unlink()
        return result(
            outcome="ok",
            summary="removed a stale main.db-journal (empty or first byte zero: SQLite never replays those)",
            after=_side(host),
            removed_stale_journal=True,
        )
    # copied into a temp-named folder first (swept if this run dies), then renamed into quarantine/
    stage = dep.db_dir / temp_name("recover-journal", "")
    stage.mkdir()
    say(f"copying main.db and {', '.join(p.name for p in sidecar_files(dep))} aside")
    for p in [dep.db_path, *sidecar_files(dep)]:
        shutil.copy2(p, stage / p.name)
        _fsync(stage / p.name)
    (stage / "quarantine.json").write_text(
        json.dumps(
            {
                "reason": "before-journal-recovery",
                "detail": "untouched copies taken before SQLite replayed the journal into the live main.db",
                "operation": "recover_journal",
                "files": [f.model_dump() for f in before.files],
                "copied_at": utcnow().isoformat(),
            },
            indent=2,
        )
    )
    folder = new_quarantine_folder(dep, "before-journal-recovery")
    os.rename(stage, folder)  # over the empty folder just reserved
    say(f"copies kept in {folder}; opening main.db read-write: SQLite replays the journal")
    integrity: str
    try:
        conn = sqlite3.connect(dep.db_path, isolation_level=None, timeout=5)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            integrity = "ok" if [r[0] for r in rows] == ["ok"] else "; ".join(str(r[0]) for r in rows[:5])
            info = inspect(conn) if integrity == "ok" else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        integrity, info = f"could not open or read main.db: {exc}", None
    after = _side(host)
    leftover = [f.name for f in after.files if f.name != dep.db_path.name]
    ok = integrity == "ok" and not leftover
    if ok:
        assert info is not None
        c = info.counts
        summary = (
            f"replayed {', '.join(f.name for f in before.files[1:])} into main.db; integrity ok; era {info.era}, "
            f"marker {info.marker.state}, images {c.images_live}/{c.images_raw}, docs {c.docs_live}/{c.docs_raw} "
            f"live/raw; copies before recovery in {folder}"
        )
    else:
        summary = (
            f"journal recovery FAILED: integrity {integrity}"
            + (f"; still present: {', '.join(leftover)}" if leftover else "")
            + f"; untouched copies in {folder}; restore a backup (option 2), which keeps this DB aside"
        )
    say(summary)
    return result(
        outcome="ok" if ok else "failed",
        summary=summary,
        after=after,
        copied_to=str(folder),
        integrity_after=integrity,
        era_after=info.era if info else None,
        marker_after=info.marker if info else None,
        counts_after=info.counts if info else Counts(),
    )
