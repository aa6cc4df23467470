"""Dry runs: the real rollback/restore code, applied to a throwaway copy of main.db.

go-fast-cdn has no ``--dry-run`` anywhere; the reference says a dry run has to be done on a copy.
The copy is a consistent snapshot (SQLite online backup from a read-only connection), so a dry run
can run while the app is up; it only warns that the real operation would be refused then.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from ops.backups import install_db_file, normalise_sha256, sha256_file, validate_backup
from ops.errors import OpInputError, OpRefused
from ops.host import Host
from ops.leftovers import dry_run_prefix
from ops.models import Counts, DbHealth, DryRunResult, utcnow
from ops.quarantine import assess, broken_db_error
from ops.restore_gate import check_rows, current_counts
from ops.rollback import MarkerMode, describe, missing_files_of, run_rollback_on
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


def _restore_over_broken(
    host: Host, health: DbHealth, backup: str, expected: str | None, started: datetime
) -> DryRunResult:
    """Nothing to copy: a real restore would move the broken main.db aside and install the backup."""
    _bpath, bsha, chk = validate_backup(host.deployment, backup, expected_sha256=expected)
    st = app_state(host)
    refuse = [] if st.running is False else [f"go-fast-cdn is not provably stopped ({st.detail})"]
    moved = ", ".join(["main.db", *health.journal_files]) if health.state != "missing" else ""
    c = chk.counts or Counts()
    summary = (
        f"dry run: main.db is {health.state} ({health.detail}); restoring {backup} would "
        + (f"move {moved} aside into db_data/quarantine/ (kept, never deleted) and " if moved else "")
        + f"install it: era {chk.era}, marker {chk.marker_state}, images live {c.images_live}, docs live "
        f"{c.docs_live}" + (f" (real restore would be refused now: {refuse[0]})" if refuse else "")
    )
    return DryRunResult(
        outcome="ok",
        summary=summary,
        started_at=started,
        target_operation="restore",
        backup=backup,
        backup_sha256=bsha,
        expected_sha256=expected,
        would_refuse=refuse,
        action="restore",
        marker_after=chk.marker,
        counts_after=c,
        era_after=chk.era,
        live_db_sha256="",
        live_db_unchanged=True,
        warnings=[f"the real restore would be refused now: {r}" for r in refuse],
    )


def dry_run(
    host: Host,
    operation: Literal["rollback", "restore"],
    *,
    backup: str | None = None,
    marker_mode: MarkerMode = "hard",
    expected_sha256: str | None = None,
    accept_fewer_rows: str | None = None,
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
    if accept_fewer_rows is not None and operation != "restore":
        raise OpInputError("bad_argument", "accept_fewer_rows only applies to a restore")
    health = assess(dep)
    if health.broken:
        if operation == "rollback":
            raise broken_db_error(health, "dry-run a rollback")
        return _restore_over_broken(host, health, str(backup), expected, started)
    bpath: Path | None = None
    bsha: str | None = None
    refuse = _refusals(host, operation)
    if operation == "restore" and backup:
        bpath, bsha, chk = validate_backup(dep, backup, expected_sha256=expected)
        try:
            check_rows(backup, chk.counts, current_counts(dep.db_path), accept_fewer_rows)
        except OpRefused as exc:
            refuse.append(exc.message)
    live_sha = sha256_file(dep.db_path)
    warnings: list[str] = []
    warnings += [f"the real {operation} would be refused now: {r}" for r in refuse]
    tmpdir = Path(tempfile.gettempdir()) / dry_run_prefix()  # a recognisable name: swept if this run dies
    tmpdir.mkdir()
    try:
        copy = tmpdir / "main.db"
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
            # the copy's images and docs are what the drop left them: the real rollback's check
            missing = missing_files_of(copy, dep)
            res.action = out.plan.action
            res.dropped = out.dropped
            res.marker_before, res.marker_after = out.plan.info.marker, out.after.marker
            res.lost_rows, res.deletes_undone = out.plan.lost_rows, out.plan.deletes_undone
            res.missing_files = missing
            res.counts_before, res.counts_after = out.plan.info.counts, out.after.counts
            res.era_before, res.era_after = out.plan.info.era, out.after.era
            res.outcome = "noop" if out.plan.action == "noop" else "ok"
            res.summary = "dry run: " + describe(out, missing)
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
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    after_sha = sha256_file(dep.db_path)
    res.live_db_unchanged = after_sha == live_sha
    if not res.live_db_unchanged:  # someone else wrote meanwhile (the app?); never us
        res.warnings.append("the live DB changed during the dry run (the app is writing?)")
    res.warnings = warnings + res.warnings
    if refuse:
        res.summary += f" (real {operation} would be refused now: {refuse[0]})"
    res.finished_at = utcnow()
    return res
