"""Dry runs: the real rollback/restore code, applied to a throwaway copy of main.db.

go-fast-cdn has no ``--dry-run`` anywhere; the reference says a dry run has to be done on a copy.
The copy is a consistent snapshot (SQLite online backup from a read-only connection), so a dry run
can run while the app is up; it only warns that the real operation would be refused then.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Literal

from ops.backups import install_db_file, normalise_sha256, sha256_file, validate_backup
from ops.errors import OpInputError
from ops.host import Host
from ops.models import DryRunResult, utcnow
from ops.rollback import MarkerMode, describe, run_rollback_on
from ops.schema import inspect_file, open_ro
from ops.status import app_state, journal_blockers


def _snapshot(src: Path, dst: Path, warnings: list[str]) -> None:
    """Consistent copy via the backup API; if the file can't be read (e.g. a hot journal), copy the
    bytes plus the journal so SQLite recovers the copy the way it would recover the real file."""
    try:
        with open_ro(src) as s:
            d = sqlite3.connect(dst)
            try:
                s.backup(d)
            finally:
                d.close()
        return
    except sqlite3.Error as exc:
        warnings.append(f"snapshot via backup API failed ({exc}); copied the bytes and the journal instead")
    dst.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    journal = src.with_name(src.name + "-journal")
    if journal.exists():
        shutil.copyfile(journal, dst.with_name(dst.name + "-journal"))


def _objects(path: Path) -> set[str]:
    info = inspect_file(path)
    return set(info.tables) | {i.name for i in info.indexes}


def _refusals(host: Host, operation: str) -> list[str]:
    out: list[str] = []
    st = app_state(host)
    if st.running is not False:
        out.append(f"go-fast-cdn is {'running' if st.running else 'in an unknown state'} ({st.detail})")
    present = journal_blockers(host.deployment)  # the same rule as the real operations: a stale journal goes
    if present:
        out.append(", ".join(p.name for p in present) + " present next to the DB")
    return out


def dry_run(
    host: Host,
    operation: Literal["rollback", "restore"],
    *,
    backup: str | None = None,
    marker_mode: MarkerMode = "hard",
    expected_sha256: str | None = None,
) -> DryRunResult:
    """What ``operation`` would change, computed on a temp copy; the live DB is never opened for writing.
    ``expected_sha256`` (restore only) pins the backup exactly like ``restore_backup``."""
    started = utcnow()
    dep = host.deployment
    if operation not in ("rollback", "restore"):
        raise OpInputError("bad_operation", f"dry_run supports rollback and restore, not {operation!r}")
    if operation == "restore" and not backup:
        raise OpInputError("backup_required", "dry_run restore needs a backup name")
    if marker_mode not in ("hard", "soft"):
        raise OpInputError("bad_marker_mode", f"marker_mode must be 'hard' or 'soft', not {marker_mode!r}")
    if expected_sha256 is not None and operation != "restore":
        raise OpInputError("bad_argument", "expected_sha256 only applies to a restore")
    expected = normalise_sha256(expected_sha256)
    if not dep.db_path.is_file():
        raise OpInputError("no_database", f"{dep.db_path} does not exist")
    bpath: Path | None = None
    bsha: str | None = None
    if operation == "restore" and backup:
        bpath, bsha, _chk = validate_backup(dep, backup, expected_sha256=expected)
    live_sha = sha256_file(dep.db_path)
    warnings: list[str] = []
    refuse = _refusals(host, operation)
    warnings += [f"the real {operation} would be refused now: {r}" for r in refuse]
    with tempfile.TemporaryDirectory(prefix="rollback-agent-dryrun-") as tmpdir:
        copy = Path(tmpdir) / "main.db"
        _snapshot(dep.db_path, copy, warnings)
        res = DryRunResult(
            outcome="ok",
            summary="",
            started_at=started,
            target_operation=operation,
            backup=backup,
            backup_sha256=bsha,
            expected_sha256=expected,
            marker_mode=marker_mode,
            would_refuse=refuse,
            live_db_sha256=live_sha,
            live_db_unchanged=True,
        )
        if operation == "rollback":
            out = run_rollback_on(copy, dep, marker_mode)
            res.action = out.plan.action
            res.dropped = out.dropped
            res.marker_before, res.marker_after = out.plan.info.marker, out.after.marker
            res.lost_rows, res.deletes_undone = out.plan.lost_rows, out.plan.deletes_undone
            res.missing_files = out.plan.missing_files
            res.counts_before, res.counts_after = out.plan.info.counts, out.after.counts
            res.era_before, res.era_after = out.plan.info.era, out.after.era
            res.outcome = "noop" if out.plan.action == "noop" else "ok"
            res.summary = "dry run: " + describe(out, marker_mode)
            if out.plan.action != "noop":
                res.summary += "; a backup would be taken first"
        else:
            assert bpath is not None
            before = inspect_file(copy)
            objs_before = _objects(copy)
            install_db_file(bpath, copy, expect_sha256=bsha)
            after = inspect_file(copy)
            objs_after = _objects(copy)
            res.action = "restore"
            res.dropped = sorted(objs_before - objs_after)
            res.added = sorted(objs_after - objs_before)
            res.marker_before, res.marker_after = before.marker, after.marker
            res.counts_before, res.counts_after = before.counts, after.counts
            res.era_before, res.era_after = before.era, after.era
            cb, ca = before.counts, after.counts
            res.summary = (
                f"dry run: restoring {backup} would turn era {before.era} into {after.era}, marker "
                f"{before.marker.state} -> {after.marker.state}, "
                f"images live {cb.images_live} -> {ca.images_live}, "
                f"docs live {cb.docs_live} -> {ca.docs_live}"
                + (f", media rows {cb.media_raw} -> {ca.media_raw}" if cb.media_raw or ca.media_raw else "")
                + (f"; drops {', '.join(res.dropped)}" if res.dropped else "")
            )
    after_sha = sha256_file(dep.db_path)
    res.live_db_unchanged = after_sha == live_sha
    if not res.live_db_unchanged:  # someone else wrote meanwhile (the app?); never us
        res.warnings.append("the live DB changed during the dry run (the app is writing?)")
    res.warnings = warnings + res.warnings
    if refuse:
        res.summary += f" (real {operation} would be refused now: {refuse[0]})"
    res.finished_at = utcnow()
    return res
