"""Is this backup a go-fast-cdn DB of its era, fit to replace the live one?

``PRAGMA integrity_check`` alone accepts any SQLite file. Before a backup replaces main.db it must
also have the tables every go-fast-cdn DB has (reference 2.2: images, docs, configs, users,
user_sessions, password_resets), the ones its era adds (2.3: media and/or migration_records), the
images/docs columns the app and the rollback read, and go-fast-cdn's rollback-journal mode (the
app opens the DB without pragmas, so a WAL-mode file is not one it wrote). Those are never
overridable. A backup with far fewer live images/docs than the current DB (an empty one, a test
DB) is refused unless the operator gives a reason, which is recorded in the result and the audit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ops.errors import OpInputError, OpRefused
from ops.models import Counts, RowCheck, SchemaEra
from ops.schema import counts, open_ro, q, tables

BASE_TABLES = ("images", "docs", "configs", "users", "user_sessions", "password_resets")
ERA_TABLES: dict[str, tuple[str, ...]] = {
    "pre-migration": (),
    "rolled-back": ("migration_records",),
    "a7396e9-media": ("media", "migration_records"),
    "tip-media": ("media", "migration_records"),
    "tip-empty-media": ("media",),
}
LEGACY_COLUMNS = ("id", "created_at", "updated_at", "deleted_at", "file_name", "checksum")
# a backup holding fewer than this share of the current DB's live images+docs needs an override
MIN_LIVE_FRACTION = 0.5
_HEADER_WRITE_VERSION = 18  # byte offsets in the SQLite header: 1 = rollback journal, 2 = WAL


def header_journal_mode(path: Path) -> str:
    """``rollback`` or ``wal`` from the file header (bytes 18/19), without opening it in SQLite."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20:
        return "unknown"
    versions = (head[_HEADER_WRITE_VERSION], head[_HEADER_WRITE_VERSION + 1])
    return {(1, 1): "rollback", (2, 2): "wal"}.get(versions, f"unknown ({versions[0]}/{versions[1]})")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({q(table)})")}


def check_journal_mode(path: Path, name: str) -> None:
    """OpInputError unless the header says rollback journal. Read from the header, before SQLite opens
    the file: opening a WAL-mode file, even read-only, creates -wal/-shm files beside it."""
    mode = header_journal_mode(path)
    if mode != "rollback":
        raise OpInputError(
            "backup_not_gofastcdn",
            f"{name} is in {mode} journal mode; go-fast-cdn's DB uses SQLite's rollback journal (DELETE mode), "
            "so this file was not written by it; nothing was changed",
        )


def check_shape(path: Path, name: str, era: SchemaEra | None) -> None:
    """OpInputError (nothing touched) unless ``path`` has the tables and columns of a go-fast-cdn DB
    of its era (call ``check_journal_mode`` first)."""
    if era is None or era not in ERA_TABLES:
        why = "a live migration marker without a media table" if era == "inconsistent" else "no images/docs tables"
        raise OpInputError("backup_not_gofastcdn", f"{name} is not a go-fast-cdn DB ({why}); nothing was changed")
    with open_ro(path) as conn:
        present = set(tables(conn))
        missing = [t for t in (*BASE_TABLES, *ERA_TABLES[era]) if t not in present]
        if missing:
            raise OpInputError(
                "backup_not_gofastcdn",
                f"{name} lacks the table(s) every go-fast-cdn DB of its era ({era}) has: {', '.join(missing)}; "
                "nothing was changed",
            )
        for table in ("images", "docs"):
            lacking = [c for c in LEGACY_COLUMNS if c not in _columns(conn, table)]
            if lacking:
                raise OpInputError(
                    "backup_not_gofastcdn",
                    f"{name}: table {table} lacks column(s) {', '.join(lacking)}; not a go-fast-cdn DB; "
                    "nothing was changed",
                )


def live_total(c: Counts | None) -> int | None:
    if c is None or c.images_live is None or c.docs_live is None:
        return None
    return c.images_live + c.docs_live


def current_counts(db: Path) -> Counts | None:
    try:
        with open_ro(db) as conn:
            return counts(conn)
    except (sqlite3.Error, OSError):
        return None


def check_rows(name: str, backup: Counts | None, current: Counts | None, override_reason: str | None) -> RowCheck:
    """OpRefused ``backup_far_fewer_rows`` when the backup has far fewer live images/docs than the
    current DB and no override reason was given; otherwise the comparison, for the result."""
    b = live_total(backup) or 0
    cur = live_total(current)
    if cur is None:
        return RowCheck(backup_live=b, detail="the current DB could not be counted: nothing to compare with")
    far = cur > 0 and b < cur * MIN_LIVE_FRACTION
    detail = f"backup {b} live images+docs, current DB {cur}"
    if far and not override_reason:
        raise OpRefused(
            "backup_far_fewer_rows",
            f"{name} holds {b} live images+docs, far fewer than the current DB's {cur} (under "
            f"{MIN_LIVE_FRACTION:.0%}): it may be an empty or wrong backup; nothing was changed. If it is the "
            "right one, restore it again with an override reason (CLI --accept-fewer-rows REASON, API "
            "args.accept_fewer_rows)",
        )
    if far:
        detail += f"; restored anyway, override: {override_reason}"
    return RowCheck(backup_live=b, current_live=cur, far_fewer=far, override_reason=override_reason, detail=detail)
