"""Backups of main.db: list, create (online backup API, never overwriting), restore (atomic, verified).

go-fast-cdn's own ``db_backup`` makes byte copies named ``db_backup_YYYYMMDD-HHMMSS.db`` that
overwrite each other within a second and are checked with ``SELECT 1`` only. Ours carry
microseconds, are published with ``os.link`` (fails instead of overwriting), and get a SHA-256 +
``PRAGMA integrity_check`` sidecar. Restore replaces the DB with ``os.replace`` from a fsynced temp
file in ``db_data/`` so a crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ops.baseline import baseline_from_counts, write_baseline
from ops.deployment import Deployment
from ops.errors import OpError, OpInputError, OpRefused
from ops.host import Host
from ops.leftovers import temp_name
from ops.models import (
    BackupCreateResult,
    BackupInfo,
    BackupListResult,
    DbHealth,
    QuarantineRecord,
    RestoreResult,
    RowCheck,
    StoppedProof,
    utcnow,
)
from ops.quarantine import SQLITE_MAGIC, assess, broken_db_error, quarantine
from ops.restore_gate import check_journal_mode, check_rows, check_shape, current_counts, header_journal_mode
from ops.schema import Counts, MarkerInfo, SchemaEra, SchemaInfo, inspect, open_ro, tables
from ops.status import clear_stale_journal, require_stopped, stale_journal_warning

Progress = Callable[[str], None] | None

AGENT_PREFIX = "rollback-agent_"
_AGENT_RE = re.compile(r"^rollback-agent_(\d{8})-(\d{6})-(\d{6})(?:-(\d+))?_([A-Za-z0-9-]+)\.db$")
_GFC_RE = re.compile(r"^db_backup_(\d{8})-(\d{6})\.db$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# the agent's own safety copies of the DB it was about to overwrite: never the default restore point
OWN_SAFETY_LABELS = ("pre-rollback", "pre-restore")


def _now() -> datetime:
    """Clock used for backup names (tests pin it to prove two backups in one instant don't collide)."""
    return datetime.now(UTC)


def say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


# --- file checks -----------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class DbCheck(BaseModel):
    valid: bool
    integrity: str  # "ok" or the first problem / error text
    era: SchemaEra | None = None
    marker_state: str | None = None
    migration_records_present: bool | None = None
    counts: Counts | None = None
    marker: MarkerInfo | None = None

    @property
    def restorable_without_media(self) -> bool:
        """No live marker and no non-empty media: restoring it leaves the app without ``media``.
        True for a pre-migration DB and for a rolled-back one (built-in or ours)."""
        return (
            self.valid
            and self.marker_state != "live"
            and self.counts is not None
            and self.counts.media_raw in (None, 0)
            and self.counts.images_raw is not None
            and self.counts.docs_raw is not None
        )

    @property
    def pre_migration(self) -> bool:
        """Taken before the migration, judged by content: no ``migration_records`` table at all (the
        migration creates it and no rollback removes it: a rolled-back DB keeps it, with the marker
        soft-deleted or, after our hard delete, without the row), and no media or only an empty one
        (a tip binary's connect before the migration)."""
        return self.restorable_without_media and self.migration_records_present is False


def check_db(path: Path, *, quick: bool = False) -> DbCheck:
    """Open read-only and run integrity_check (or quick_check); garbage files come back invalid.

    The check and the counts (a scan of every table) read the file on two connections at once:
    both run in SQLite's C code, which releases the GIL, so the wall time is the check's alone."""

    def _inspect() -> SchemaInfo:
        with open_ro(path) as conn:
            return inspect(conn)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check-db-counts") as pool:
            info_ahead = pool.submit(_inspect)
            with open_ro(path) as conn:
                rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
            integrity = "ok" if [r[0] for r in rows] == ["ok"] else "; ".join(str(r[0]) for r in rows[:5])
            info = info_ahead.result()
    except (sqlite3.Error, OSError) as exc:
        return DbCheck(valid=False, integrity=f"unreadable: {exc}")
    return DbCheck(
        valid=integrity == "ok",
        integrity=integrity,
        era=info.era,
        marker_state=info.marker.state,
        migration_records_present=info.migration_records_present,
        counts=info.counts,
        marker=info.marker,
    )


def _has_sqlite_header(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def resolve_backup(dep: Deployment, name: str) -> Path:
    """A bare file name inside backups/ that exists and stays inside (symlinks included)."""
    if not name or name != Path(name).name or "/" in name or "\\" in name or name in (".", ".."):
        raise OpInputError("backup_path_outside", f"{name!r} is not a bare file name inside backups/")
    bdir = dep.backups_dir.resolve()
    p = dep.backups_dir / name
    if p.is_symlink() and p.resolve().parent != bdir:
        raise OpInputError("backup_path_outside", f"{name} is a symlink pointing outside backups/")
    if not p.is_file():
        raise OpInputError("backup_missing", f"no backup named {name} in {dep.backups_dir}")
    return p


def name_time(name: str) -> tuple[datetime | None, Literal["agent", "go-fast-cdn", "other"], str | None]:
    """(time, kind, label) from a backup name: agent names are UTC with microseconds, go-fast-cdn's
    are local time with seconds."""
    m = _AGENT_RE.match(name)
    if m:
        d, t, us, _n, label = m.groups()
        dt = datetime.strptime(d + t, "%Y%m%d%H%M%S").replace(microsecond=int(us), tzinfo=UTC)
        return dt, "agent", label
    m = _GFC_RE.match(name)
    if m:
        return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").astimezone(), "go-fast-cdn", None
    return None, "other", None


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_sidecar(path: Path) -> dict[str, object] | None:
    sc = _sidecar(path)
    if not sc.is_file():
        return None
    try:
        data = json.loads(sc.read_text())
    except (ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    """Temp file (a recognisable name) + fsync + rename: a crash leaves the old file or the new one."""
    tmp = path.with_name(temp_name(path.name))
    try:
        with open(tmp, "x") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse directory fsync
        _fsync_file(path)


# --- list ------------------------------------------------------------------------------------------


def _pre_migration_verdict(
    chk: DbCheck, kind: str, label: str | None, when: datetime | None, marker_created: datetime | None
) -> tuple[bool, str | None]:
    """(pre_migration, note). The note says why a backup without live marker/media is not pre-migration."""
    if not chk.restorable_without_media:
        return False, None
    if chk.migration_records_present:
        return False, f"rolled back, not pre-migration: migration_records present (marker {chk.marker_state})"
    if kind == "agent" and label in OWN_SAFETY_LABELS:
        return False, f"the agent's own {label} copy: never the default restore point"
    if marker_created is not None and when is not None and kind != "other" and when > marker_created:
        return False, (
            f"named {when.isoformat()}, after the current DB's migration marker ({marker_created.isoformat()})"
        )
    return True, None


def describe_backup(path: Path, marker_created: datetime | None = None) -> BackupInfo:
    when, kind, label = name_time(path.name)
    mode = header_journal_mode(path) if _has_sqlite_header(path) else "rollback"
    # a WAL-mode file is not go-fast-cdn's, and opening it (even read-only) would create -wal/-shm beside it
    chk = (
        check_db(path, quick=True)
        if mode == "rollback"
        else DbCheck(valid=False, integrity=f"{mode} journal mode: not a go-fast-cdn DB (not opened)")
    )
    sc = _read_sidecar(path)
    pre, note = _pre_migration_verdict(chk, kind, label, when, marker_created)
    return BackupInfo(
        name=path.name,
        kind=kind,
        label=label,
        time=when or datetime.fromtimestamp(path.stat().st_mtime, UTC),
        size=path.stat().st_size,
        sha256=sha256_file(path),
        valid=chk.valid,
        integrity=chk.integrity,
        era=chk.era,
        marker_state=chk.marker_state,
        migration_records_present=chk.migration_records_present,
        pre_migration=pre,
        restorable_without_media=chk.restorable_without_media,
        pre_migration_note=note,
        sidecar_sha256=str(sc["sha256"]) if sc and "sha256" in sc else None,
        images_live=chk.counts.images_live if chk.counts else None,
        docs_live=chk.counts.docs_live if chk.counts else None,
    )


def current_marker_created(dep: Deployment) -> datetime | None:
    """created_at of the live DB's migration marker (live or soft-deleted); None if none or unreadable."""
    if not dep.db_path.is_file():
        return None
    try:
        with open_ro(dep.db_path) as conn:
            return inspect(conn).marker.created_at
    except (sqlite3.Error, OSError):
        return None


def list_backups(host: Host) -> BackupListResult:
    """Every ``*.db`` directly in backups/ (like go-fast-cdn's list), oldest first, checked read-only.

    The newest pre-migration backup (the reference's restore point) is starred; rolled-back DBs and
    the agent's own pre-rollback/pre-restore copies stay listed, flagged ``restorable_without_media``."""
    started = utcnow()
    bdir = host.deployment.backups_dir
    marker_created = current_marker_created(host.deployment)
    items = (
        [describe_backup(p, marker_created) for p in sorted(bdir.glob("*.db")) if p.is_file()] if bdir.is_dir() else []
    )
    items.sort(key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name))
    pre = [b for b in items if b.pre_migration]
    newest = pre[-1].name if pre else None
    for b in items:
        b.newest_pre_migration = b.name == newest
    bad = [b.name for b in items if not b.valid]
    other = [b.name for b in items if b.restorable_without_media and not b.pre_migration]
    res = BackupListResult(
        outcome="ok" if items else "noop",
        summary=(
            f"{len(items)} backup(s), newest pre-migration: {newest or 'none'}"
            + (
                f"; {len(other)} without live marker/media but not pre-migration (rolled back, or the "
                "agent's own safety copies)"
                if other
                else ""
            )
            + (f"; {len(bad)} invalid: {', '.join(bad)}" if bad else "")
        ),
        started_at=started,
        backups_dir=str(bdir),
        backups=items,
        newest_pre_migration=newest,
        current_marker_created_at=marker_created,
    )
    if bad:
        res.warnings.append(f"not valid SQLite DBs: {', '.join(bad)}")
    if not newest and other:
        res.warnings.append(
            "no pre-migration backup: the ones without media are rolled-back DBs or the agent's own safety "
            "copies (restoring one drops media but leaves migration_records behind)"
        )
    return res


# --- create ----------------------------------------------------------------------------------------


def _agent_name(label: str, when: datetime, n: int) -> str:
    clean = re.sub(r"[^A-Za-z0-9-]+", "-", label).strip("-") or "manual"
    suffix = f"-{n}" if n else ""
    return f"{AGENT_PREFIX}{when.strftime('%Y%m%d-%H%M%S-%f')}{suffix}_{clean}.db"


COPY_CHUNK = 4 << 20


def copy_hashing(src: Path, dst: Path) -> str:
    """Copy ``src`` to a new file ``dst`` (never an existing one) and fsync it; the SHA-256 is taken
    from the same buffers, so the bytes are read once."""
    h = hashlib.sha256()
    buf = bytearray(COPY_CHUNK)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as fin, open(dst, "xb", buffering=0) as fout:
        while n := fin.readinto(buf):
            h.update(view[:n])
            done = 0
            while done < n:
                done += fout.write(view[done:n])
        os.fsync(fout.fileno())
    return h.hexdigest()


def snapshot_copy(db: Path, dst: Path) -> str:
    """A consistent copy of ``db`` at ``dst``, hashed in the copy pass; returns its SHA-256.

    In rollback-journal mode (go-fast-cdn's) a read transaction holds SQLite's SHARED lock, so no
    writer can commit while the bytes are copied: the copy is a snapshot, like the online backup
    API's single step, without a second read to hash it. (Closing our own descriptor drops this
    process's POSIX locks on the file, which is why the transaction ends right after.) A WAL DB
    keeps committed pages outside the main file, so it goes through the backup API and is hashed
    after. A hot journal makes the read fail (sqlite3.Error), as it did with the backup API."""
    with open_ro(db) as conn:
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            dst_conn = sqlite3.connect(dst)
            try:
                conn.backup(dst_conn)
            finally:
                dst_conn.close()
            _fsync_file(dst)
            return sha256_file(dst)
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # takes the SHARED lock
            return copy_hashing(db, dst)
        finally:
            conn.execute("COMMIT")


def _publish(tmp: Path, bdir: Path, label: str) -> Path:
    """Give ``tmp`` its final name without ever replacing an existing file (os.link fails if taken)."""
    when = _now()
    for n in range(1000):
        final = bdir / _agent_name(label, when, n)
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: reserve the name exclusively, then rename over our own file
            try:
                fd = os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(tmp, final)
            return final
        tmp.unlink()
        return final
    raise OSError("could not find a free backup name")


def create_backup(
    host: Host, *, label: str = "manual", progress: Progress = None, health: DbHealth | None = None
) -> BackupCreateResult:
    """Online backup of main.db into backups/ (safe while the app runs; never overwrites).

    ``health`` is the assessment the calling operation made of this DB moments ago with the app
    stopped (rollback, restore): it isn't read again. The copy's own integrity_check still runs."""
    started = utcnow()
    dep = host.deployment
    # Without a caller's assessment, judge the file alone: the copy below is the DB's bytes under a
    # read lock and gets a full integrity_check (a superset of quick_check), so a copy that passes
    # means the DB would have passed too; when the copy fails, the full assessment runs and decides
    # which refusal it is (a broken DB, or a bad copy), as it did before the copy.
    full_health = health is not None
    health = health or assess(dep, integrity=False)
    if health.broken:
        raise broken_db_error(health, "back up main.db")

    def refuse(err: OpRefused) -> OpError:
        now = health if full_health else assess(dep)
        return broken_db_error(now, "back up main.db") if now.broken else err

    dep.backups_dir.mkdir(parents=True, exist_ok=True)
    tmp = dep.backups_dir / temp_name("backup", ".part")
    say(progress, f"backing up {dep.db_path.name} (consistent copy under a SQLite read lock)")
    try:
        try:
            digest = snapshot_copy(dep.db_path, tmp)
        except sqlite3.Error as exc:
            raise refuse(OpRefused("db_unreadable", f"cannot back up {dep.db_path}: {exc}")) from exc
        chk = check_db(tmp)
        if not chk.valid:
            raise refuse(OpRefused("backup_check_failed", f"backup failed integrity_check: {chk.integrity}"))
        final = _publish(tmp, dep.backups_dir, label)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(dep.backups_dir)
    res = _record_backup(
        dep, final, label=label, sha256=digest, integrity=chk.integrity, counts=chk.counts or Counts(),
        marker=chk.marker, era=chk.era, started=started,
    )  # fmt: skip
    say(progress, f"backup {final.name} sha256 {digest[:12]}… integrity {chk.integrity}")
    return res


def _record_backup(
    dep: Deployment,
    final: Path,
    *,
    label: str,
    sha256: str,
    integrity: str,
    counts: Counts,
    marker: MarkerInfo | None,
    era: SchemaEra | None,
    started: datetime,
    method: str | None = None,
) -> BackupCreateResult:
    """The sidecar (written atomically) and the result of a backup just published as ``final``;
    ``method`` names how it was made when it isn't a copy (the pre-restore hard link)."""
    sidecar = _sidecar(final)
    data: dict[str, object] = {
        "name": final.name,
        "sha256": sha256,
        "integrity": integrity,
        "label": label,
        "created_at": utcnow().isoformat(),
        "source": str(dep.db_path),
        "source_counts": counts.model_dump(),
        "source_marker": marker.state if marker is not None else None,
    }
    if method is not None:
        data["method"] = method
    _write_atomic(sidecar, json.dumps(data, indent=2))
    how = ", hard link" if method is not None else ""
    return BackupCreateResult(
        outcome="ok",
        summary=f"backup {final.name} (sha256 {sha256[:12]}, integrity {integrity}{how})",
        started_at=started,
        name=final.name,
        path=str(final),
        sha256=sha256,
        size=final.stat().st_size,
        integrity=integrity,
        sidecar=sidecar.name,
        source_counts=counts,
        source_marker=marker,
        source_era=era,
    )


# --- the DB a restore replaces -----------------------------------------------------------------------


class ReplacedDb:
    """What a restore reads of the main.db it is about to replace, read once: its health (the
    restore gate), and, when healthy, its schema and counts (the row gate and the pre-restore
    backup's sidecar) and its SHA-256, all under one SQLite read lock that is held until
    :meth:`close` (after the replace), so no commit can slip in between what was checked and what is
    kept. Made on a second thread while the backup is staged: it only reads."""

    def __init__(self, dep: Deployment) -> None:
        self.db = dep.db_path
        self.health = assess(dep)
        self.info: SchemaInfo | None = None
        self.sha256: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._fd: int | None = None
        if self.health.broken or self.health.journal in ("hot", "wal"):
            return  # quarantined or refused later; nothing to keep
        try:
            uri = self.db.resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._conn.execute("BEGIN")
            tables(self._conn)  # the first read takes the SHARED lock: nobody commits from here on
            # hashed through a descriptor kept open: closing any descriptor of the file would drop
            # this process's POSIX locks on it, SQLite's read lock included. The hash (hashlib) and
            # the counts (SQLite) both release the GIL: they run side by side.
            self._fd = os.open(self.db, os.O_RDONLY)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="restore-hash") as pool:
                hashed = pool.submit(_sha256_fd, self._fd)
                self.info = inspect(self._conn)
                self.sha256 = hashed.result()
        except (sqlite3.Error, OSError):
            self.info, self.sha256 = None, None
            self.close()

    @property
    def counts(self) -> Counts | None:
        return self.info.counts if self.info is not None else current_counts(self.db)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    buf = bytearray(COPY_CHUNK)
    view = memoryview(buf)
    offset = 0
    while n := os.preadv(fd, [buf], offset):
        h.update(view[:n])
        offset += n
    return h.hexdigest()


def keep_replaced_db(
    host: Host, replaced: ReplacedDb, *, label: str = "pre-restore", progress: Progress = None
) -> BackupCreateResult:
    """The pre-restore backup of a DB that is about to be replaced: a hard link to it in backups/
    (never overwriting), with its sidecar, instead of a byte copy, because the restore only renames
    another file over ``main.db``: the linked inode keeps exactly the bytes that were hashed and
    checked, and nothing is copied or read again. Where a link can't be made (backups/ on another
    file system, no hard links) or the survey couldn't read the DB, it is copied by ``create_backup``.

    The order keeps everything if the process dies at any point: the link (fsynced) exists before
    ``main.db`` is replaced, and until then both names are the same, unchanged file. A restore
    stopped in between leaves the link as a second name for ``main.db``: :func:`separate_db_links`
    (the failed restore itself, or the next operation) gives it a copy of its own."""
    dep = host.deployment
    info, digest = replaced.info, replaced.sha256
    if info is None or digest is None:
        return create_backup(host, label=label, progress=progress, health=replaced.health)
    dep.backups_dir.mkdir(parents=True, exist_ok=True)
    when = _now()
    final: Path | None = None
    for n in range(1000):
        candidate = dep.backups_dir / _agent_name(label, when, n)
        try:
            os.link(dep.db_path, candidate)
        except FileExistsError:
            continue
        except OSError:
            break
        final = candidate
        break
    if final is None:
        return create_backup(host, label=label, progress=progress, health=replaced.health)
    _fsync_dir(dep.backups_dir)
    res = _record_backup(
        dep, final, label=label, sha256=digest,
        integrity="ok (quick_check)",  # the restore gate's check of these bytes: not run again on the link
        counts=info.counts, marker=info.marker, era=info.era, started=utcnow(),
        method="hard link to the replaced main.db",
    )  # fmt: skip
    say(progress, f"kept the replaced DB as {final.name} (hard link) sha256 {digest[:12]}…")
    return res


def separate_db_links(dep: Deployment) -> list[str]:
    """Backups that are still another name for ``main.db`` (the same inode), each said in a line.

    A restore keeps the replaced DB as a hard link, then renames the restored file over ``main.db``.
    Stopped in between (SIGKILL, a failed rename), the "pre-restore backup" is ``main.db`` itself,
    and go-fast-cdn's next write would change it too. Each such name gets a copy of its own when
    the copy's SHA-256 is the one its sidecar recorded (or there is no sidecar): the copy is read
    from the linked name, so nothing is lost whatever runs meanwhile, even a live restore. One whose
    bytes changed since is left alone and reported. Costs one ``stat`` while ``main.db`` has one name."""
    try:
        live = dep.db_path.stat()
    except OSError:
        return []
    if live.st_nlink < 2 or not dep.backups_dir.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(dep.backups_dir.glob("*.db")):
        try:
            st = path.lstat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (live.st_dev, live.st_ino):
            lines.append(_separate_link(path))
    return lines


def _separate_link(path: Path) -> str:
    sidecar = _read_sidecar(path)
    recorded = str(sidecar["sha256"]) if sidecar and "sha256" in sidecar else None
    what = f"backups/{path.name} was still a hard link to main.db (a restore stopped before replacing it)"
    tmp = path.with_name(temp_name(path.stem, ".part"))
    try:
        digest = copy_hashing(path, tmp)
        if recorded is not None and digest != recorded:
            tmp.unlink()
            return (
                f"{what}, and main.db has changed since: it no longer holds the bytes its sidecar "
                f"records (sha256 {recorded[:12]}…, now {digest[:12]}…); left as it is"
            )
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return f"{what}; making it a copy of its own failed: {exc}"
    return f"{what}: it is now a copy of its own, sha256 {digest[:12]}…" + (" as recorded" if recorded else "")


# --- restore ---------------------------------------------------------------------------------------


def normalise_sha256(expected_sha256: str | None) -> str | None:
    """Lowercase hex, or OpInputError for anything that isn't 64 hex digits."""
    if expected_sha256 is None:
        return None
    value = expected_sha256.strip().lower()
    if not _SHA256_RE.match(value):
        raise OpInputError("bad_sha256", f"expected_sha256 must be 64 hex digits, not {expected_sha256!r}")
    return value


def validate_backup(dep: Deployment, backup: str, *, expected_sha256: str | None = None) -> tuple[Path, str, DbCheck]:
    """(path, sha256, check) of a restorable backup, else OpInputError (nothing touched).

    ``expected_sha256`` pins the backup: a different SHA-256 is ``backup_checksum_mismatch``."""
    expected = normalise_sha256(expected_sha256)
    path = resolve_backup(dep, backup)
    return path, *check_backup_bytes(path, path, backup, sha256_file(path), expected)


def check_backup_bytes(
    source: Path, checked: Path, backup: str, digest: str, expected: str | None
) -> tuple[str, DbCheck]:
    """The restore gates on ``checked``, whose bytes hash to ``digest``: the backup ``source`` itself, or
    the copy of it a restore staged (hashed as it was written). In this order: the pin, the journal
    mode from the header (before SQLite opens it), integrity, the go-fast-cdn tables of its era, the
    sidecar's SHA-256. OpInputError for the first that fails."""
    if expected is not None and digest != expected:
        raise OpInputError(
            "backup_checksum_mismatch",
            f"{backup}: sha256 {digest} is not the expected {expected}; nothing was changed",
        )
    if _has_sqlite_header(checked):
        check_journal_mode(checked, backup)  # before SQLite opens it (a WAL file would grow -wal/-shm)
    chk = check_db(checked)
    if not chk.valid:
        raise OpInputError("backup_invalid", f"{backup} is not a valid SQLite DB: {chk.integrity}")
    check_shape(checked, backup, chk.era)
    sc = _read_sidecar(source)
    if sc and "sha256" in sc and sc["sha256"] != digest:
        raise OpInputError(
            "backup_checksum_mismatch",
            f"{backup}: sha256 {digest[:12]} differs from its sidecar {str(sc['sha256'])[:12]}",
        )
    return digest, chk


def stage_backup(dep: Deployment, backup: str, *, expected_sha256: str | None = None) -> tuple[Path, str, DbCheck]:
    """(staged copy, sha256, check): the backup copied once into a temp file beside main.db, hashed in
    the copy pass and fsynced, then put through ``check_backup_bytes``. The staged file is what the
    restore renames into place, so the bytes checked are the bytes installed and the backup is read
    once. On a refusal the staged file is removed (and db_data/ too if this made it): nothing changed."""
    expected = normalise_sha256(expected_sha256)
    path = resolve_backup(dep, backup)
    made_dir = not dep.db_dir.exists()
    dep.db_dir.mkdir(parents=True, exist_ok=True)
    staged = dep.db_path.with_name(temp_name(dep.db_path.name, ".tmp"))
    try:
        digest, chk = check_backup_bytes(path, staged, backup, copy_hashing(path, staged), expected)
    except BaseException:
        staged.unlink(missing_ok=True)
        if made_dir:
            with contextlib.suppress(OSError):
                dep.db_dir.rmdir()
        raise
    return staged, digest, chk


def install_db_file(src: Path, dst: Path, *, expect_sha256: str | None = None, staged: bool = False) -> str:
    """Copy ``src`` over ``dst`` atomically: temp file in dst's folder, fsync, os.replace, fsync folder.
    Returns the sha256 of what was written. With ``expect_sha256``, bytes that hash differently (the
    file changed since it was checked) are never installed: OpInputError, ``dst`` untouched.

    ``staged``: ``src`` is already such a temp file (``stage_backup``: fsynced, hashed as it was
    written to ``expect_sha256``), so it is renamed into place without another copy."""
    if staged:
        if expect_sha256 is None or src.parent != dst.parent:
            raise ValueError("a staged install needs the staged file's sha256 and dst's folder")
        os.replace(src, dst)
        _fsync_dir(dst.parent)
        return expect_sha256
    tmp = dst.with_name(temp_name(dst.name, ".tmp"))
    try:
        digest = copy_hashing(src, tmp)  # fsynced
        if expect_sha256 is not None and digest != expect_sha256:
            raise OpInputError(
                "backup_checksum_mismatch",
                f"{src.name} changed while being copied (sha256 {digest[:12]}, checked "
                f"{expect_sha256[:12]}); {dst.name} was not replaced",
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(dst.parent)
    return digest


def restore_backup(
    host: Host,
    backup: str,
    *,
    expected_sha256: str | None = None,
    accept_fewer_rows: str | None = None,
    app_stopped_by: str | None = None,
    progress: Progress = None,
) -> RestoreResult:
    """Replace main.db with a backup (app must be stopped).

    Every check runs before anything changes: the backup (pin, integrity, go-fast-cdn tables of its
    era, rollback-journal mode), the live DB's health, and the live row comparison (far fewer live
    images/docs needs ``accept_fewer_rows``, a reason that is recorded). A healthy DB is backed up
    first (``pre-restore``); a broken one (missing, zero bytes, unreadable, not SQLite, corrupt) can't
    be, so it is moved with its journal/WAL into ``db_data/quarantine/`` instead and the restore goes
    on: option 2 is the way out of a broken DB. A hot journal beside a healthy DB is refused
    (recover_journal replays it)."""
    started = utcnow()
    dep = host.deployment
    proof = require_stopped(host, "restore", asserted_by=app_stopped_by)
    # the DB being replaced is read (health, counts, hash) on a second thread while the backup is
    # staged and checked on this one: both only read, and the gates are still judged in their order
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="restore-survey") as pool:
        survey = pool.submit(ReplacedDb, dep)
        try:
            staged, digest, chk = stage_backup(dep, backup, expected_sha256=expected_sha256)
        except BaseException:
            with contextlib.suppress(Exception):  # the staging error is the one to report
                survey.result().close()
            raise
        replaced = survey.result()
    try:
        return _restore_staged(
            host, backup, staged, digest, chk, expected_sha256, accept_fewer_rows, proof, started, progress, replaced
        )
    finally:
        replaced.close()
        staged.unlink(missing_ok=True)  # gone already once installed; removed on any refusal or error


def _restore_staged(
    host: Host,
    backup: str,
    staged: Path,
    digest: str,
    chk: DbCheck,
    expected_sha256: str | None,
    accept_fewer_rows: str | None,
    proof: StoppedProof,
    started: datetime,
    progress: Progress,
    replaced: ReplacedDb,
) -> RestoreResult:
    """The rest of ``restore_backup``, once the backup is staged and checked."""
    dep = host.deployment
    expected = normalise_sha256(expected_sha256)
    health = replaced.health
    rows: RowCheck | None = None
    if not health.broken:
        rows = check_rows(backup, chk.counts, replaced.counts, accept_fewer_rows)
        if health.journal in ("hot", "wal"):
            clear_stale_journal(dep, "restore")  # raises journal_present with the recover_journal hint
    # --- nothing has been changed up to here -------------------------------------------------------
    warnings: list[str] = []
    removed: str | None = None
    quarantined: QuarantineRecord | None = None
    pre: BackupCreateResult | None = None
    if health.broken:
        say(progress, f"main.db is {health.state} ({health.detail}): moving it aside, keeping it")
        dep.db_dir.mkdir(parents=True, exist_ok=True)
        if health.state != "missing" or health.journal_files:
            quarantined = quarantine(dep, health, "restore", keep_db_in_place=True)
            warnings.append(
                f"main.db was {health.state} ({health.detail}); kept as {', '.join(quarantined.files)} in "
                f"{quarantined.folder} (never deleted); no pre-restore backup possible"
            )
        else:
            warnings.append("main.db was missing: nothing to back up or keep")
    else:
        removed = clear_stale_journal(dep, "restore")
        if removed:
            warnings.append(stale_journal_warning(removed))
            say(progress, f"removed stale {removed}")
    if expected is not None:
        say(progress, f"{backup} sha256 {digest[:12]}… matches the pinned value")
    if rows is not None and rows.far_fewer:
        warnings.append(f"far fewer live rows than the replaced DB ({rows.detail})")
    if not chk.pre_migration:
        what = (
            "a rolled-back DB (migration_records present), not a pre-migration backup"
            if chk.restorable_without_media
            else "not a pre-migration backup"
        )
        warnings.append(f"{backup} is {what} (marker {chk.marker_state}, era {chk.era})")
    if not health.broken:
        say(progress, "keeping the current DB before restoring")
        pre = keep_replaced_db(host, replaced, label="pre-restore", progress=progress)
    say(progress, f"restoring {backup} (atomic replace)")
    try:
        written = install_db_file(staged, dep.db_path, expect_sha256=digest, staged=True)
    except Exception:
        if pre is not None:  # main.db was not replaced: the pre-restore link is main.db itself
            with contextlib.suppress(OSError):  # never hide why the restore failed
                for line in separate_db_links(dep):
                    say(progress, line)
        raise
    # main.db is now the very file validated above (hashed as it was written, equal to the checked
    # SHA-256), so that integrity check and those counts are its own: no second read
    after = chk
    restored_sha = written
    ok = after.valid and written == digest
    base_path: str | None = None
    if ok:
        base = baseline_from_counts(after.counts or Counts(), source="restore", backup=backup, what=backup)
        base_path = str(write_baseline(dep, base))
    c = after.counts or Counts()
    kept = f"; broken main.db kept in {quarantined.folder}" if quarantined else ""
    summary = (
        f"restored {backup} (sha256 {digest[:12]} matches{' the pinned value' if expected else ''}, "
        f"integrity {after.integrity}); images "
        f"{c.images_live}/{c.images_raw}, docs {c.docs_live}/{c.docs_raw} live/raw; "
        f"marker {after.marker_state}{kept}"
        if ok
        else f"restore of {backup} FAILED its check: integrity {after.integrity}, sha256 {restored_sha[:12]} "
        f"vs {digest[:12]}; pre-restore backup {pre.name if pre else 'none'}{kept}"
    )
    say(progress, summary)
    return RestoreResult(
        outcome="ok" if ok else "failed",
        summary=summary,
        warnings=warnings,
        started_at=started,
        backup=backup,
        backup_sha256=digest,
        expected_sha256=expected,
        backup_integrity=chk.integrity,
        pre_restore_backup=pre.name if pre else None,
        pre_restore_sha256=pre.sha256 if pre else None,
        restored_sha256=restored_sha,
        integrity_after=after.integrity,
        counts_before=pre.source_counts if pre else Counts(),  # the pre-restore copy's own check
        counts_after=c,
        era_before=pre.source_era if pre else None,
        era_after=after.era,
        marker_after=after.marker,
        removed_journal=removed,
        baseline_path=base_path,
        db_state_before=health.state,
        quarantine=quarantined,
        row_check=rows,
        stopped_proof=proof,
    )
