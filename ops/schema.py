"""Read-only inspection of a go-fast-cdn DB: objects, schema era, marker, counts.

Everything is derived from ``sqlite_master`` and PRAGMAs, never from DDL text, so files written
by go-fast-cdn's real tools (whatever their exact DDL spelling) classify the same way as our
fixtures. Only the media/marker *names* are fixed by the reference.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ops.gorm_time import parse_datetime
from ops.models import Counts, IndexInfo, MarkerInfo, SchemaEra

MARKER_NAME = "media_unification_2024"
MEDIA_TABLE = "media"
MEDIA_INDEXES = ("idx_media_deleted_at", "idx_media_file_name", "idx_media_file_name_type")
LEGACY_TABLES = ("images", "docs")
# what a correct rollback leaves present (reference: neither the migration nor the rollback writes them)
KEPT_TABLES = ("images", "docs", "configs", "users", "user_sessions", "password_resets", "sqlite_sequence")


class SchemaInfo(BaseModel):
    tables: list[str]
    indexes: list[IndexInfo]
    era: SchemaEra
    media_schema: Literal["a7396e9", "tip"] | None
    migration_records_present: bool
    marker: MarkerInfo
    counts: Counts

    @property
    def media_present(self) -> bool:
        return MEDIA_TABLE in self.tables

    def media_objects(self) -> list[str]:
        """media's own indexes (by table, not by name) and the table itself, in drop order."""
        objs = [i.name for i in self.indexes if i.table == MEDIA_TABLE and not i.name.startswith("sqlite_")]
        return objs + ([MEDIA_TABLE] if self.media_present else [])


def q(name: str) -> str:
    """Quote an identifier (names come from sqlite_master, still never trust them in SQL text)."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def open_ro(path: Path) -> Iterator[sqlite3.Connection]:
    """Open read-only via URI ``mode=ro``: never creates, never writes, never rolls back a journal."""
    if not Path(path).is_file():
        raise FileNotFoundError(str(path))
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]


def indexes(conn: sqlite3.Connection) -> list[IndexInfo]:
    out: list[IndexInfo] = []
    for name, table in conn.execute(
        "SELECT name, tbl_name FROM sqlite_master WHERE type='index' ORDER BY tbl_name, name"
    ).fetchall():
        unique = False
        for row in conn.execute(f"PRAGMA index_list({q(table)})"):
            if row[1] == name:
                unique = bool(row[2])
        cols = [r[2] for r in conn.execute(f"PRAGMA index_info({q(name)})")]
        out.append(IndexInfo(name=name, table=table, unique=unique, columns=cols))
    return out


def marker_info(conn: sqlite3.Connection, present_tables: list[str] | None = None) -> MarkerInfo:
    """The media_unification_2024 row: a live one wins over a soft-deleted one."""
    if "migration_records" not in (present_tables if present_tables is not None else tables(conn)):
        return MarkerInfo(state="absent")
    row = conn.execute(
        "SELECT id, completed, created_at, updated_at, deleted_at FROM migration_records WHERE name=? "
        "ORDER BY (deleted_at IS NULL) DESC, id DESC LIMIT 1",
        (MARKER_NAME,),
    ).fetchone()
    if row is None:
        return MarkerInfo(state="absent")
    rid, completed, created, updated, deleted = row
    return MarkerInfo(
        state="live" if deleted is None else "soft-deleted",
        id=rid,
        completed=None if completed is None else bool(int(completed)),
        created_at=parse_datetime(created),
        created_at_text=None if created is None else str(created),
        updated_at_text=None if updated is None else str(updated),
        deleted_at_text=None if deleted is None else str(deleted),
    )


def count(conn: sqlite3.Connection, table: str, *, live: bool) -> int:
    where = " WHERE deleted_at IS NULL" if live else ""
    return int(conn.execute(f"SELECT COUNT(*) FROM {q(table)}{where}").fetchone()[0])


MediaSums = tuple[dict[str, tuple[int, int]], int]
"""Per migration type (image, document) its (raw, live) media rows, and how many rows have another type."""

_MEDIA_SUMS_SQL = (
    "SELECT COALESCE(SUM(type = 'image'), 0), COALESCE(SUM(type = 'image' AND deleted_at IS NULL), 0), "
    "COALESCE(SUM(type = 'document'), 0), COALESCE(SUM(type = 'document' AND deleted_at IS NULL), 0), "
    "COUNT(*) - COALESCE(SUM(type IN ('image', 'document')), 0) FROM media"
)


def counts(
    conn: sqlite3.Connection, present_tables: list[str] | None = None, *, media_sums: MediaSums | None = None
) -> Counts:
    """Live and raw counts with one pass per table: images/docs over their (small) deleted_at
    index, media over the table once, grouped by type (2M rows: one scan instead of six).
    ``media_sums``: the media table's, from a scan the caller makes anyway (the rollback's)."""
    present = present_tables if present_tables is not None else tables(conn)
    c = Counts()
    for t in ("images", "docs"):
        if t in present:
            raw, live = conn.execute(f"SELECT COUNT(*), COUNT(*) - COUNT(deleted_at) FROM {q(t)}").fetchone()
            setattr(c, f"{t}_live", int(live))
            setattr(c, f"{t}_raw", int(raw))
    if "media" in present:
        if media_sums is None:
            # one scan without a sort: the two types the migration writes are summed directly, and
            # only if other types exist (written after it) are those grouped, on the rows that have them
            img_raw, img_live, doc_raw, doc_live, other = conn.execute(_MEDIA_SUMS_SQL).fetchone()
            media_sums = ({"image": (img_raw, img_live), "document": (doc_raw, doc_live)}, other)
        by_type, other = media_sums
        rows = [(t, raw, live) for t, (raw, live) in sorted(by_type.items()) if raw]
        if other:
            rows += conn.execute(
                "SELECT type, COUNT(*), COUNT(*) - COUNT(deleted_at) FROM media "
                "WHERE type IS NULL OR type NOT IN ('image', 'document') GROUP BY type"
            ).fetchall()
            rows.sort(key=lambda r: str(r[0]))
        c.media_raw_by_type = {str(t): int(raw) for t, raw, _ in rows}
        c.media_live_by_type = {str(t): int(live) for t, _, live in rows if live}
        c.media_raw = sum(c.media_raw_by_type.values())
        c.media_live = sum(c.media_live_by_type.values())
    return c


def media_schema(conn: sqlite3.Connection, idx: list[IndexInfo]) -> Literal["a7396e9", "tip"]:
    """a7396e9: a UNIQUE index on file_name alone. Otherwise tip (file_name NOT NULL, a unique
    (file_name, type) index, or no unique index at all, as observed right after a tip migration)."""
    if any(i.table == MEDIA_TABLE and i.unique and i.columns == ["file_name"] for i in idx):
        return "a7396e9"
    return "tip"


def inspect(conn: sqlite3.Connection, counted: Counts | None = None) -> SchemaInfo:
    """``counted``: the counts of this very snapshot, made by the caller on another connection."""
    present = tables(conn)
    idx = indexes(conn)
    marker = marker_info(conn, present)
    c = counted if counted is not None else counts(conn, present)
    mschema = media_schema(conn, idx) if MEDIA_TABLE in present else None
    era: SchemaEra
    if not all(t in present for t in LEGACY_TABLES):
        era = "unknown"
    elif MEDIA_TABLE in present:
        if marker.state != "live" and c.media_raw == 0:
            era = "tip-empty-media"
        else:
            era = "a7396e9-media" if mschema == "a7396e9" else "tip-media"
    elif marker.state == "live":
        era = "inconsistent"
    elif "migration_records" in present:
        era = "rolled-back"
    else:
        era = "pre-migration"
    return SchemaInfo(
        tables=present,
        indexes=idx,
        era=era,
        media_schema=mschema,
        migration_records_present="migration_records" in present,
        marker=marker,
        counts=c,
    )


def inspect_file(path: Path) -> SchemaInfo:
    with open_ro(path) as conn:
        return inspect(conn)
