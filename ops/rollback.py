"""Roll go-fast-cdn's DB back from the media migration, on the file, in one transaction.

Like ``media_migration --rollback`` it drops ``media`` (with its indexes and its sqlite_sequence
row) and retires the ``media_unification_2024`` marker, but (a) it reports the media rows the
rollback loses before dropping them, (b) it backs up first and records a baseline, and (c) by
default it hard-deletes the marker, because go-fast-cdn's soft delete makes every later
re-migration fail on ``UNIQUE constraint failed: migration_records.name``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.backups import create_backup, say
from ops.baseline import baseline_from_counts, write_baseline
from ops.deployment import Deployment
from ops.errors import OpError, OpInputError, OpRefused
from ops.files import MissingFile, file_locations, missing_legacy_files
from ops.gorm_time import gorm_now, parse_datetime, to_ns
from ops.host import Host
from ops.models import LostRow, MarkerMode, RollbackResult, utcnow
from ops.models import RollbackAction as Action
from ops.quarantine import assess, broken_db_error
from ops.schema import (
    LEGACY_TABLES,
    MARKER_NAME,
    MEDIA_TABLE,
    MarkerInfo,
    MediaSums,
    SchemaInfo,
    counts,
    inspect,
    inspect_file,
    marker_info,
    open_ro,
    q,
    tables,
)
from ops.status import clear_stale_journal, require_stopped, stale_journal_warning

_TYPE_TABLE = {"image": "images", "document": "docs"}


@dataclass
class RollbackPlan:
    """What the drop needs to know and report: the DB as it is, and the rows the drop loses."""

    info: SchemaInfo
    action: Action
    lost_rows: list[LostRow] = field(default_factory=list)
    deletes_undone: list[LostRow] = field(default_factory=list)


@dataclass
class CoreOutcome:
    plan: RollbackPlan
    after: SchemaInfo
    dropped: list[str]
    sequence_row_removed: bool
    replanned: bool = False  # a plan made ahead was stale: planned again under the write lock


def choose_action(info: SchemaInfo) -> Action:
    if info.era == "unknown":
        raise OpRefused("not_gofastcdn", "the DB has no images/docs tables: not a go-fast-cdn DB")
    if not info.media_present and info.marker.state != "live":
        return "noop"
    if info.media_present and info.marker.state != "live" and info.counts.media_raw == 0:
        return "drop-empty-media"
    return "rollback"


def _after_marker(created: str | None, marker: MarkerInfo) -> bool | None:
    if created is None or marker.created_at_text is None:
        return None
    try:
        return to_ns(created) > to_ns(marker.created_at_text)
    except ValueError:
        return None


_KEYS_NAME = "rollback_agent_legacy_keys"
_KEYS = f"temp.{_KEYS_NAME}"
_OTHER_TYPES = "m.type IS NULL OR m.type NOT IN (" + ", ".join(f"'{t}'" for t in _TYPE_TABLE) + ")"


def _legacy_keys(conn: sqlite3.Connection, mtype: str) -> None:
    """A temp table of every live images (or docs) row's (file_name, checksum), indexed.

    The legacy tables have no index on file_name, and a correlated ``EXISTS`` on them picks the
    ``deleted_at`` index and goes quadratic (1M x 1M). Copying the keys into a temp table and then
    ``CREATE INDEX`` (one external sort, bounded by SQLite's page cache, spilling to a temp file)
    makes each media row one index probe. Nothing is written to the DB file itself."""
    conn.execute(f"DROP TABLE IF EXISTS {_KEYS}")
    conn.execute(f"CREATE TABLE {_KEYS}(file_name, checksum)")
    conn.execute(f"INSERT INTO {_KEYS} SELECT file_name, checksum FROM {_TYPE_TABLE[mtype]} WHERE +deleted_at IS NULL")
    conn.execute(f"CREATE INDEX {_KEYS}_key ON {_KEYS_NAME}(file_name, checksum)")


def changed_rows_sql(mtype: str, *, other_types: bool) -> str:
    """One scan of media: the (raw, live) rows of ``mtype`` (with ``other_types``, also the rows of
    any other type), and as a JSON array the ids of the rows of ``mtype`` whose fate changes with the
    drop: live ones no live legacy row of that type matches (lost), and soft-deleted ones one does
    (their delete is undone); with ``other_types``, also the live rows only media can hold.

    Only those ids come back, and the counts cost no scan of their own. ``IS`` matches NULL with
    NULL (as tuple equality does) and is answered from the index like ``=``; a text checksum never
    equals a blob one (SQLite compares storage classes first)."""
    changed = (
        f"(m.type = '{mtype}' AND (m.deleted_at IS NULL) <> EXISTS ("
        f"SELECT 1 FROM {_KEYS} AS k WHERE k.file_name IS m.file_name AND k.checksum IS m.checksum))"
    )
    other = "0"
    if other_types:
        changed += f" OR (({_OTHER_TYPES}) AND m.deleted_at IS NULL)"
        other = f"COUNT(*) FILTER (WHERE {_OTHER_TYPES})"
    return (
        f"SELECT COUNT(*) FILTER (WHERE m.type = '{mtype}'), "
        f"COUNT(*) FILTER (WHERE m.type = '{mtype}' AND m.deleted_at IS NULL), {other}, "
        f"json_group_array(m.id) FILTER (WHERE {changed}) FROM media AS m"
    )


_CHANGED_ROWS = (
    "SELECT id, file_name, type, checksum, created_at, deleted_at FROM media "
    "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
)


def _renamed_from(conn: sqlite3.Connection, sums: set[object]) -> dict[object, object]:
    """checksum -> the first live legacy name with that checksum (in the key table), for ``sums`` only."""
    if not sums:
        return {}
    out: dict[object, object] = {}
    conn.execute("DROP TABLE IF EXISTS temp.rollback_agent_wanted")
    conn.execute("CREATE TABLE temp.rollback_agent_wanted(checksum PRIMARY KEY) WITHOUT ROWID")
    rows = [(c,) for c in sums if c is not None]
    conn.executemany("INSERT OR IGNORE INTO temp.rollback_agent_wanted VALUES (?)", rows)
    null_too = " OR k.checksum IS NULL" if None in sums else ""  # a key column can't hold NULL
    for checksum, name in conn.execute(
        f"SELECT k.checksum, k.file_name FROM {_KEYS} AS k "
        f"WHERE k.checksum IN temp.rollback_agent_wanted{null_too} ORDER BY k.rowid"
    ):
        out.setdefault(checksum, name)
    conn.execute("DROP TABLE temp.rollback_agent_wanted")
    return out


@dataclass
class MediaScan:
    """What one pass over media per type tells: the rows whose fate changes, the legacy names lost
    rows were renamed from ((type, checksum) -> name), and the counts (:data:`MediaSums`)."""

    changed: list[tuple[Any, ...]]
    renamed: dict[tuple[str, object], object]
    sums: MediaSums


def _scan_type(conn: sqlite3.Connection, mtype: str, *, other_types: bool) -> MediaScan:
    _legacy_keys(conn, mtype)
    try:
        raw, live, other, ids = conn.execute(changed_rows_sql(mtype, other_types=other_types)).fetchone()
        changed = conn.execute(_CHANGED_ROWS, (ids,)).fetchall()
        sums = {checksum for _, _, t, checksum, _, deleted in changed if t == mtype and deleted is None}
        renamed = {(mtype, c): name for c, name in _renamed_from(conn, sums).items()}
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_KEYS}")
    return MediaScan(changed=changed, renamed=renamed, sums=({mtype: (int(raw), int(live))}, int(other)))


def _scan_type_in(db_file: Path, mtype: str) -> MediaScan:
    with open_ro(db_file) as conn:
        return _scan_type(conn, mtype, other_types=False)


def scan_media(conn: sqlite3.Connection) -> MediaScan:
    """Every type's changed rows (in id order) and counts. With a DB file, the second type is worked
    out on a read-only connection of its own, started while ``conn`` holds its SHARED lock (the
    caller's transaction has read), so on the same state: each type's key sort and media scan is C
    code that releases the GIL, so the two use both cores. Joined before this returns, i.e. before
    any write (a reader left open would block the commit)."""
    first, *rest = _TYPE_TABLE
    db_file = _db_file(conn)
    if db_file is None:
        parts = [_scan_type(conn, t, other_types=t == first) for t in _TYPE_TABLE]
    else:
        tables(conn)  # the SHARED lock, if the caller's transaction hasn't read yet
        with ThreadPoolExecutor(max_workers=len(rest), thread_name_prefix="rollback-scan") as pool:
            others = [pool.submit(_scan_type_in, db_file, t) for t in rest]
            parts = [_scan_type(conn, first, other_types=True)] + [f.result() for f in others]
    return MediaScan(
        changed=sorted((r for p in parts for r in p.changed), key=lambda r: int(r[0])),
        renamed={k: v for p in parts for k, v in p.renamed.items()},
        sums=({t: n for p in parts for t, n in p.sums[0].items()}, sum(p.sums[1] for p in parts)),
    )


def lost_rows_of(scan: MediaScan, dep: Deployment, marker: MarkerInfo) -> tuple[list[LostRow], list[LostRow]]:
    """(lost, deletes_undone) from a :func:`scan_media`: live media rows not matched by a live
    image/doc on (file_name, type, checksum), and soft-deleted media rows that were (their legacy row
    will be live again), each with why it is lost and where its file is.

    One SQL anti-join per type returns only those rows, so time and memory grow with the rows lost,
    not with the size of the media table (see :func:`_legacy_keys` for why it isn't a plain EXISTS).
    ``marker``: the migration's, to tell uploads made after it."""
    changed, by_sum = scan.changed, scan.renamed
    lost: list[LostRow] = []
    undone: list[LostRow] = []
    for rid, name, mtype, checksum, created, deleted in changed:
        after = _after_marker(created, marker)
        renamed = by_sum.get((mtype, checksum), name)
        if deleted is not None:
            reason = f"deleted after the migration; the {_TYPE_TABLE.get(mtype, mtype)} row is live again"
        elif mtype not in _TYPE_TABLE:
            reason = f"type {mtype}: only the media table can hold it"
        elif renamed != name:
            reason = f"renamed from {renamed} after the migration"
        elif after:
            reason = "uploaded after the migration"
        else:
            reason = f"no live {_TYPE_TABLE[mtype]} row with this name and checksum"
        locs = file_locations(dep, str(name))
        row = LostRow(
            id=int(rid),
            file_name=str(name),
            type=str(mtype),
            created_at=parse_datetime(created),
            created_at_text=None if created is None else str(created),
            after_migration=after,
            reason=reason,
            file_on_disk=bool(locs),
            file_locations=locs,
        )
        (undone if deleted is not None else lost).append(row)
    return lost, undone


def _db_file(conn: sqlite3.Connection) -> Path | None:
    name = conn.execute("PRAGMA database_list").fetchone()[2]
    return Path(name) if name else None


def missing_files_of(db_file: Path, dep: Deployment) -> list[MissingFile]:
    """The legacy-file check on a read-only connection of its own. The rollback neither needs it
    nor changes what it reads (images, docs, their folders), so it runs beside the safety backup
    and never inside the write transaction."""
    with open_ro(db_file) as conn:
        return missing_legacy_files(conn, dep)


def plan_rollback(conn: sqlite3.Connection, dep: Deployment) -> RollbackPlan:
    """Inspect and lost rows, from ``conn``'s snapshot (a read or write transaction is open on it):
    the media counts come from the same scans as the lost rows (:func:`scan_media`)."""
    present = tables(conn)
    if MEDIA_TABLE not in present or not all(t in present for t in LEGACY_TABLES):
        info = inspect(conn)
        return RollbackPlan(info=info, action=choose_action(info))  # refuses a DB that isn't go-fast-cdn's
    scan = scan_media(conn)
    info = inspect(conn, counted=counts(conn, present, media_sums=scan.sums))
    lost, undone = lost_rows_of(scan, dep, info.marker)
    return RollbackPlan(info=info, action=choose_action(info), lost_rows=lost, deletes_undone=undone)


def _apply(conn: sqlite3.Connection, plan: RollbackPlan, marker_mode: MarkerMode) -> tuple[list[str], bool]:
    """The writes, inside the caller's transaction: drop media's indexes and table, retire the marker."""
    dropped: list[str] = []
    for obj in plan.info.media_objects():
        if obj == "media":
            conn.execute(f"DROP TABLE {q(obj)}")
        else:
            conn.execute(f"DROP INDEX {q(obj)}")
        dropped.append(obj)
    seq_removed = False
    if "sqlite_sequence" in plan.info.tables:
        had = conn.execute("SELECT COUNT(*) FROM sqlite_sequence WHERE name='media'").fetchone()[0]
        conn.execute("DELETE FROM sqlite_sequence WHERE name='media'")  # DROP TABLE already does; be sure
        seq_removed = bool(had) or ("media" in dropped)
    if plan.info.migration_records_present:
        if marker_mode == "hard":
            conn.execute("DELETE FROM migration_records WHERE name=?", (MARKER_NAME,))
        else:  # go-fast-cdn's soft delete: deleted_at only, updated_at untouched
            conn.execute(
                "UPDATE migration_records SET deleted_at=? WHERE name=? AND deleted_at IS NULL",
                (gorm_now(local=True), MARKER_NAME),
            )
    return dropped, seq_removed


def _data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits to the DB (never for this connection's own writes)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


@dataclass
class PlanSnapshot:
    """A plan and the legacy-file check made ahead of the write lock from one read snapshot, on a
    read-only connection kept open so that ``PRAGMA data_version`` on it tells, later, whether
    anyone has committed since."""

    plan: RollbackPlan
    missing_files: list[MissingFile]
    conn: sqlite3.Connection
    version: int

    def current(self) -> bool:
        return _data_version(self.conn) == self.version

    def close(self) -> None:
        self.conn.close()


def plan_ahead(db_path: Path, dep: Deployment) -> PlanSnapshot:
    """The plan of ``db_path`` and its legacy-file check, from one read snapshot, made off the
    calling thread (rollback makes them while its safety backup is copied and checked: all three
    only read the live DB). The file check runs on a connection of its own, started once this one
    holds its SHARED lock, so both see the same state."""
    conn = sqlite3.connect(
        Path(db_path).resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("BEGIN")
        try:
            seen = _data_version(conn)
            tables(conn)  # takes the SHARED lock before the file check's connection reads
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollback-file-check") as pool:
                files = pool.submit(missing_files_of, db_path, dep)
                plan = plan_rollback(conn, dep)
                missing = files.result()
        finally:
            conn.execute("ROLLBACK")
    except BaseException:
        conn.close()
        raise
    return PlanSnapshot(plan=plan, missing_files=missing, conn=conn, version=seen)


def run_rollback_on(
    db_path: Path, dep: Deployment, marker_mode: MarkerMode, *, planned: PlanSnapshot | None = None
) -> CoreOutcome:
    """Plan, then apply in one ``BEGIN IMMEDIATE`` transaction on ``db_path`` (the live DB, or a copy
    for a dry run); ``dep`` only supplies the upload folders. Checks media is gone before committing.

    The plan only reads (inspect, lost rows), so it's made from a read snapshot before the write
    lock: here, or ahead by the caller (``planned``, see :func:`plan_ahead`). Inside the write
    transaction ``PRAGMA data_version`` on the connection that planned tells whether anyone
    committed since that snapshot; if so the plan is made again under the lock, so what's reported
    is always what the drop saw. The legacy-file check is the caller's: it isn't the drop's business."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    try:
        # Debian's SQLite is built with SECURE_DELETE: dropping media would overwrite and journal
        # every freed page (the whole table: ten times the drop's own work at 2M rows). The dropped
        # rows are kept in the pre-rollback backup anyway; FAST still scrubs the pages it rewrites.
        conn.execute("PRAGMA secure_delete=FAST")
        if planned is None:
            conn.execute("BEGIN")
            try:
                seen = _data_version(conn)
                plan = plan_rollback(conn, dep)
            finally:
                conn.execute("ROLLBACK")  # read-only: nothing to commit
        conn.execute("BEGIN IMMEDIATE")
        try:
            if planned is not None:
                replanned = not planned.current()
                planned.close()  # no reader of ours may be left open at COMMIT
                plan = plan_rollback(conn, dep) if replanned else planned.plan
            else:
                replanned = _data_version(conn) != seen
                if replanned:
                    plan = plan_rollback(conn, dep)
            dropped: list[str] = []
            seq = False
            after = plan.info
            if plan.action != "noop":
                dropped, seq = _apply(conn, plan, marker_mode)
                # what the commit below makes durable: no need to read it again; images and docs
                # are counted by the plan, from this same state, and the drop doesn't write them
                kept = plan.info.counts.without_media() if MEDIA_TABLE not in tables(conn) else None
                after = inspect(conn, counted=kept)
                if after.media_present or after.marker.state == "live":
                    raise sqlite3.DatabaseError("media or live marker still present inside the transaction")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        if planned is not None:
            planned.close()
        conn.close()
    return CoreOutcome(plan=plan, after=after, dropped=dropped, sequence_row_removed=seq, replanned=replanned)


def describe(out: CoreOutcome, missing_files: list[MissingFile]) -> str:
    p = out.plan
    if p.action == "noop":
        return "nothing to roll back: no media table and no live marker"
    parts = [f"dropped {', '.join(out.dropped)}" if out.dropped else "no media table to drop"]
    before, after = p.info.marker.state, out.after.marker.state
    if before != after:
        parts.append(f"marker {before} -> {after}")
    if p.lost_rows:
        names = ", ".join(r.file_name for r in p.lost_rows[:3]) + ("…" if len(p.lost_rows) > 3 else "")
        parts.append(f"{len(p.lost_rows)} media row(s) lost ({names})")
    else:
        parts.append("no media rows lost")
    if missing_files:
        parts.append(f"{len(missing_files)} legacy file(s) missing")
    if p.action == "drop-empty-media":
        parts.insert(0, "empty media table (re-created by a tip binary)")
    return "; ".join(parts)


def _has_work(db: Path) -> bool:
    """Whether a rollback has anything to do (a media table or a live marker), read from the schema
    and the marker row only, without counting rows. OpRefused for a DB that isn't go-fast-cdn's."""
    with open_ro(db) as conn:
        present = tables(conn)
        if not all(t in present for t in LEGACY_TABLES):
            choose_action(inspect(conn))  # raises not_gofastcdn
        return MEDIA_TABLE in present or marker_info(conn, present).state == "live"


def _broken_or(dep: Deployment, exc: Exception) -> Exception:
    """A DB that fails to read: broken (restore is the way out) if the full assessment says so."""
    health = assess(dep)
    return broken_db_error(health, "roll back") if health.broken else exc


def rollback(
    host: Host,
    *,
    marker_mode: MarkerMode = "hard",
    app_stopped_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RollbackResult:
    """Refuse unless stopped and free of a hot journal/-wal (a stale journal (empty, or first byte zero) is
    removed, exactly as restore does); then backup, baseline, report losses, drop, verify."""
    started = utcnow()
    if marker_mode not in ("hard", "soft"):
        raise OpInputError("bad_marker_mode", f"marker_mode must be 'hard' or 'soft', not {marker_mode!r}")
    dep = host.deployment
    proof = require_stopped(host, "roll back", asserted_by=app_stopped_by)
    say(progress, f"app stopped ({proof.method}): {proof.detail}")
    # Judged from the file alone (exists, SQLite header, journal), like ``backups create``: the safety
    # backup below is these bytes copied under SQLite's read lock and gets a full integrity_check, so
    # a corrupt DB is still refused, with the same code, before anything is written.
    health = assess(dep, integrity=False)
    if health.broken:  # missing/zero-byte/unreadable/not SQLite: a failure whose way out is a restore
        raise broken_db_error(health, "roll back")
    removed = clear_stale_journal(dep, "roll back")
    warnings: list[str] = []
    if removed:
        warnings.append(stale_journal_warning(removed))
        say(progress, f"removed stale {removed}")
    say(progress, "inspecting the DB")
    try:
        before = None if _has_work(dep.db_path) else inspect_file(dep.db_path)
    except sqlite3.DatabaseError as exc:
        raise _broken_or(dep, exc) from exc
    if before is not None:
        res = RollbackResult(
            outcome="noop",
            summary="nothing to roll back: no media table and no live marker (no backup taken)",
            started_at=started,
            marker_mode=marker_mode,
            action="noop",
            era_before=before.era,
            era_after=before.era,
            counts_before=before.counts,
            counts_after=before.counts,
            marker_before=before.marker,
            marker_after=before.marker,
            removed_journal=removed,
            stopped_proof=proof,
            warnings=warnings,
        )
        if before.marker.state == "soft-deleted":
            res.warnings.append(
                "the marker is soft-deleted (go-fast-cdn's rollback): a re-migration will fail with "
                "'UNIQUE constraint failed: migration_records.name' until that row is hard-deleted"
            )
        return res
    # the plan (lost rows, the file check) reads the live DB on a second thread while the safety
    # backup is copied and checked on this one; the drop below re-plans if anyone committed since
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollback-plan") as pool:
        ahead = pool.submit(plan_ahead, dep.db_path, dep)
        try:
            bk = create_backup(host, label="pre-rollback", progress=progress)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                ahead.result().close()
            if isinstance(exc, OpError) and exc.code in ("db_broken", "db_missing"):
                raise _broken_or(dep, exc) from exc  # the same failure, worded for a rollback
            raise
        planned = ahead.result()
    # the backup's own check counted these very bytes: no second pass over them
    try:
        base = baseline_from_counts(bk.source_counts, source="rollback", backup=bk.name, what=bk.name)
        base_path = write_baseline(dep, base)
        say(
            progress,
            f"baseline: images {base.images_live}/{base.images_raw}, docs {base.docs_live}/{base.docs_raw}",
        )
        say(progress, "dropping media and retiring the marker in one transaction")
    except BaseException:
        planned.close()
        raise
    out = run_rollback_on(dep.db_path, dep, marker_mode, planned=planned)
    # images, docs and their folders are what the drop left them: a stale check is made again after it
    missing = missing_files_of(dep.db_path, dep) if out.replanned else planned.missing_files
    ok = not out.after.media_present and out.after.marker.state != "live"
    summary = describe(out, missing) + f"; backup {bk.name}"
    if not ok:
        summary = "rollback did NOT take: media or a live marker is still there; " + summary
    say(progress, summary)
    res = RollbackResult(
        outcome="ok" if ok else "failed",
        summary=summary,
        started_at=started,
        marker_mode=marker_mode,
        action=out.plan.action,
        era_before=out.plan.info.era,
        era_after=out.after.era,
        backup=bk.name,
        backup_sha256=bk.sha256,
        baseline_path=str(base_path),
        lost_rows=out.plan.lost_rows,
        deletes_undone=out.plan.deletes_undone,
        missing_files=missing,
        counts_before=out.plan.info.counts,
        counts_after=out.after.counts,
        marker_before=out.plan.info.marker,
        marker_after=out.after.marker,
        dropped=out.dropped,
        sequence_row_removed=out.sequence_row_removed,
        removed_journal=removed,
        stopped_proof=proof,
        warnings=warnings,
    )
    if missing:
        res.warnings.append(
            f"{len(missing)} live images/docs row(s) have no file; restore_files can copy "
            f"{sum(m.copy_in_media for m in missing)} back from uploads/media"
        )
    if marker_mode == "soft":
        res.warnings.append("marker soft-deleted like go-fast-cdn: a re-migration will fail until it is hard-deleted")
    return res
