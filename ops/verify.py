"""The post-rollback check go-fast-cdn doesn't have.

go-fast-cdn's verify_media_migration checks a *migrated* DB and exits 1 after every correct
rollback (and a tip build even re-creates media). This one checks what the reference says a
correct rollback leaves: no media or media indexes, kept tables present, no live marker, images/docs
counts equal to the baseline, and every live legacy row's file on disk.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from ops.backups import check_db, list_backups, resolve_backup
from ops.baseline import Baseline, baseline_from_db, read_baseline
from ops.errors import OpInputError
from ops.files import MissingFile, missing_legacy_files
from ops.host import Host
from ops.models import Check, Outcome, SqliteCommand, VerifyResult, utcnow
from ops.quarantine import assess
from ops.schema import KEPT_TABLES, MEDIA_INDEXES, MEDIA_TABLE, SchemaInfo, inspect, open_ro

BASELINE_MAX_AGE = timedelta(hours=24)
SOFT_DELETED_MARKER_WARNING = (
    "the media_unification_2024 marker is soft-deleted: a re-migration will fail on UNIQUE "
    "migration_records.name until this row is hard-deleted"
)


def newest_pre_migration_baseline(host: Host) -> tuple[Baseline | None, str | None]:
    """The newest pre-migration backup in backups/ (the agent's or go-fast-cdn's ``db_backup_*.db``)."""
    listing = list_backups(host)
    name = listing.newest_pre_migration
    if name is None:
        return None, None
    try:
        base = baseline_from_db(host.deployment.backups_dir / name, source=f"backup:{name}", backup=name)
    except (ValueError, sqlite3.Error, OSError):
        return None, None
    return base, f"newest-pre-migration:{name}"


def _baseline(host: Host, baseline_backup: str | None) -> tuple[Baseline | None, str | None]:
    dep = host.deployment
    if baseline_backup is not None:
        path = resolve_backup(dep, baseline_backup)
        chk = check_db(path, quick=True)
        if not chk.valid:
            raise OpInputError("backup_invalid", f"{baseline_backup} is not a valid SQLite DB: {chk.integrity}")
        try:
            return baseline_from_db(path, source=f"backup:{baseline_backup}", backup=baseline_backup), (
                f"backup:{baseline_backup}"
            )
        except ValueError as exc:
            raise OpInputError("backup_not_gofastcdn", str(exc)) from exc
    base = read_baseline(dep)
    if base is not None:
        return base, "baseline.json"
    return newest_pre_migration_baseline(host)


NO_BASELINE = (
    "inconclusive: no baseline to compare with (the agent recorded none, and backups/ holds no "
    "pre-migration backup); pick the backup to compare with (--baseline BACKUP)"
)


def _count_check(info: SchemaInfo, base: Baseline | None, source: str | None) -> Check:
    if base is None:
        return Check(name="counts_match_baseline", passed=False, inconclusive=True, detail=NO_BASELINE)
    c = info.counts
    if source and source.startswith("newest-pre-migration:"):
        origin = f"the newest pre-migration backup {base.backup}"
    else:
        origin = f"{source}: recorded {base.recorded_at.isoformat(timespec='seconds')} by {base.source}" + (
            f", backup {base.backup}" if base.backup else ""
        )
    diffs = [
        f"{k} {getattr(c, k)} != {getattr(base, k)}"
        for k in ("images_live", "images_raw", "docs_live", "docs_raw")
        if getattr(c, k) != getattr(base, k)
    ]
    detail = (
        f"images {c.images_live}/{c.images_raw}, docs {c.docs_live}/{c.docs_raw} live/raw match the baseline ({origin})"
        if not diffs
        else f"differs from the baseline ({origin}): " + "; ".join(diffs)
    )
    return Check(name="counts_match_baseline", passed=not diffs, detail=detail)


def build_checks(
    conn: sqlite3.Connection, host: Host, base: Baseline | None, source: str | None
) -> tuple[list[Check], SchemaInfo, list[MissingFile]]:
    info = inspect(conn)
    checks: list[Check] = []
    checks.append(
        Check(
            name="media_absent",
            passed=MEDIA_TABLE not in info.tables,
            detail="no media table"
            if MEDIA_TABLE not in info.tables
            else f"media present ({info.counts.media_raw} rows)",
        )
    )
    left = sorted({i.name for i in info.indexes if i.name in MEDIA_INDEXES or i.table == MEDIA_TABLE})
    checks.append(
        Check(
            name="media_indexes_absent",
            passed=not left,
            detail="none" if not left else "present: " + ", ".join(left),
        )
    )
    missing_tables = [t for t in KEPT_TABLES if t not in info.tables]
    checks.append(
        Check(
            name="kept_tables_present",
            passed=not missing_tables,
            detail=", ".join(KEPT_TABLES) + " present"
            if not missing_tables
            else "missing: " + ", ".join(missing_tables),
        )
    )
    checks.append(
        Check(
            name="no_live_marker",
            passed=info.marker.state != "live",
            detail=f"marker {info.marker.state}"
            + (f" (created {info.marker.created_at_text})" if info.marker.state == "live" else ""),
        )
    )
    checks.append(_count_check(info, base, source))
    missing = missing_legacy_files(conn, host.deployment)
    checks.append(
        Check(
            name="legacy_files_present",
            passed=not missing,
            detail="every live images/docs row has its file"
            if not missing
            else "missing: "
            + ", ".join(
                f"{m.expected_path}{' (copy in uploads/media)' if m.copy_in_media else ''}" for m in missing[:10]
            )
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""),
        )
    )
    return checks, info, missing


def _warnings(info: SchemaInfo, base: Baseline | None, source: str | None, now: datetime) -> list[str]:
    out: list[str] = []
    if info.marker.state == "soft-deleted":
        out.append(SOFT_DELETED_MARKER_WARNING)
    recorded = None if base is None else base.recorded_at
    if recorded is not None and recorded.tzinfo is None:  # a hand-edited baseline.json: take it as UTC
        recorded = recorded.replace(tzinfo=UTC)
    if base is not None and recorded is not None and source == "baseline.json" and now - recorded > BASELINE_MAX_AGE:
        out.append(
            f"baseline from {recorded.isoformat(timespec='seconds')} ({base.source}); pass --baseline "
            "BACKUP to compare with a specific backup"
        )
    return out


def sqlite3_tables_output(names: list[str], width: int = 80) -> str:
    """``.tables`` as the sqlite3 shell prints it: sorted, column-major, padded to the longest name."""
    shown = sorted(n for n in names if not n.startswith("sqlite_"))
    if not shown:
        return ""
    longest = max(len(n) for n in shown)
    cols = max(width // (longest + 2), 1)
    rows = (len(shown) + cols - 1) // cols
    lines = []
    for i in range(rows):
        cells = [shown[j].ljust(longest) for j in range(i, len(shown), rows)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def sqlite3_view(conn: sqlite3.Connection, db_path: str) -> list[SqliteCommand]:
    """What the checklist's option 3 commands print: ``.tables`` and the two raw ``COUNT(*)``s
    (raw: soft-deleted rows included, unlike go-fast-cdn's own counts)."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")]
    out = [SqliteCommand(command=f'sqlite3 {db_path} ".tables"', output=sqlite3_tables_output(names))]
    for table in ("images", "docs"):
        try:
            text = str(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        except sqlite3.Error as exc:
            text = f"Error: in prepare, {exc}"  # what the sqlite3 shell prints for a missing table
        out.append(SqliteCommand(command=f'sqlite3 {db_path} "SELECT COUNT(*) FROM {table};"', output=text))
    return out


def verify(host: Host, *, baseline_backup: str | None = None) -> VerifyResult:
    """Read-only post-rollback check: ``ok`` only if every check passes, ``failed`` if one fails,
    ``inconclusive`` if none fails but one could not be made (no baseline anywhere)."""
    started = utcnow()
    base, source = _baseline(host, baseline_backup)
    dep = host.deployment
    health = assess(dep)  # zero bytes or not SQLite would otherwise read as an empty DB
    try:
        if health.broken:
            raise sqlite3.DatabaseError(f"main.db is {health.state}: {health.detail}")
        with open_ro(dep.db_path) as conn:
            checks, info, missing = build_checks(conn, host, base, source)
            shell = sqlite3_view(conn, str(dep.db_path))
    except (sqlite3.Error, FileNotFoundError) as exc:
        chk = Check(name="db_readable", passed=False, detail=f"{dep.db_path}: {exc}")
        return VerifyResult(
            outcome="failed",
            summary=f"verify failed: DB unreadable ({exc}); restore a backup (option 2)",
            started_at=started,
            checks=[chk],
            failed_checks=[chk.name],
            baseline=base,
            baseline_source=source,
        )
    failed = [c.name for c in checks if not c.passed and not c.inconclusive]
    unsure = [c.name for c in checks if c.inconclusive]
    outcome: Outcome
    if failed:
        outcome = "failed"
        summary = f"verify FAILED {len(failed)}/{len(checks)}: " + "; ".join(
            f"{c.name}: {c.detail}" for c in checks if c.name in failed
        )
    elif unsure:
        outcome = "inconclusive"
        summary = f"verify INCONCLUSIVE: {len(checks) - len(unsure)} checks passed, but " + "; ".join(
            f"{c.name}: {c.detail}" for c in checks if c.inconclusive
        )
    else:
        outcome = "ok"
        against = source.split(":", 1)[1] if source and ":" in source else source
        summary = f"verify passed ({len(checks)} checks): no media, no live marker, counts = {against}, files present"
    warnings = _warnings(info, base, source, started)
    if source and source.startswith("newest-pre-migration:"):
        warnings.append(
            "no baseline recorded by the agent: compared with the newest pre-migration backup "
            f"{base.backup if base else ''} in backups/; pass --baseline BACKUP to compare with another"
        )
    return VerifyResult(
        outcome=outcome,
        summary=summary,
        warnings=warnings,
        started_at=started,
        checks=checks,
        failed_checks=failed,
        inconclusive_checks=unsure,
        baseline=base,
        baseline_source=source,
        counts=info.counts,
        missing_files=missing,
        sqlite3=shell,
    )
