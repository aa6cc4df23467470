"""Legacy upload files (uploads/images, uploads/docs) versus the live images/docs rows.

The rollback never touches files, but migration-era deletes/renames removed or renamed files in
the legacy folders (only the media row changed), and ``file_migration --cleanup`` deletes them.
Copies usually survive in uploads/media, which is where restore_files takes them from.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from ops.deployment import Deployment
from ops.host import Host
from ops.leftovers import temp_name
from ops.models import MissingFile, RestoreFilesResult, utcnow
from ops.quarantine import require_healthy
from ops.schema import open_ro, tables

FOLDERS = {"images": "images", "docs": "docs"}


def safe_name(name: object) -> str | None:
    """A bare file name or None: a DB value like ``../x`` must never become a path outside uploads/."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
        return None
    # On POSIX that is exactly ``Path(name).name == name``; elsewhere (drive letters) ask pathlib.
    if os.name != "posix" and Path(name).name != name:
        return None
    return name


def file_locations(dep: Deployment, name: str) -> list[str]:
    """Which of uploads/media|images|docs hold ``name``."""
    ok = safe_name(name)
    if ok is None:
        return []
    return [f for f in ("media", "images", "docs") if (dep.uploads_dir / f / ok).is_file()]


class _Folder:
    """Answers "is ``name`` a file in this folder?" like ``Path.is_file`` (symlinks followed), with
    one ``stat`` relative to an open directory handle: no path objects, no listing kept in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.absent = False
        try:
            self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_PATH", 0))
        except (FileNotFoundError, NotADirectoryError):
            self.absent = True  # nothing under it can exist
        except OSError:
            self.fd = None  # left to a per-name check by path

    def has(self, name: str) -> bool:
        if self.absent:
            return False
        try:
            st = os.stat(name, dir_fd=self.fd) if self.fd is not None else os.stat(self.path / name)
        except (OSError, ValueError):
            return False
        return stat.S_ISREG(st.st_mode)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_LISTING = "rollback_agent_listing"
_LIST_BATCH = 20_000


def _insert_names(conn: sqlite3.Connection, names: list[str]) -> None:
    """One statement per batch: the names go in as one JSON array, so the rows are inserted by
    SQLite (C) rather than bound one by one from Python."""
    try:
        text = json.dumps(names, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name that isn't UTF-8 on disk can't equal a DB name (read as UTF-8)
        names = [n for n in names if _utf8(n)]
        text = json.dumps(names, ensure_ascii=False)
    conn.execute(f"INSERT INTO temp.{_LISTING}(name) SELECT value FROM json_each(?)", (text,))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _file_names(chunk: list[os.DirEntry[str]]) -> list[str]:
    """The names that ``is_file()``: from d_type, with a ``stat`` only for symlinks (followed) and
    unknown types."""
    try:
        return [e.name for e in chunk if e.is_file()]
    except OSError:  # rare (a stat refused): the same, entry by entry, an unreadable entry counting as no file
        out: list[str] = []
        for e in chunk:
            try:
                if e.is_file():
                    out.append(e.name)
            except OSError:
                continue
        return out


def _list_folder(conn: sqlite3.Connection, folder: Path) -> bool:
    """Fill the temp listing table with the names in ``folder`` that ``is_file()`` (a symlink to a
    regular file counts; a directory, a dangling symlink or anything else doesn't), indexed with one
    sort. An absent folder (or a file, a dangling symlink in its place) gives an empty listing.
    False if it can't be listed (no read permission): the caller checks name by name instead."""
    conn.execute(f"DROP TABLE IF EXISTS temp.{_LISTING}")
    conn.execute(f"CREATE TABLE temp.{_LISTING}(name TEXT)")
    try:
        with os.scandir(folder) as entries:
            while chunk := list(islice(entries, _LIST_BATCH)):
                _insert_names(conn, _file_names(chunk))
    except (FileNotFoundError, NotADirectoryError):
        pass  # nothing can be under it: every row is missing
    except OSError:
        conn.execute(f"DROP TABLE temp.{_LISTING}")
        return False
    conn.execute(f"CREATE INDEX temp.{_LISTING}_name ON {_LISTING}(name)")
    return True


def _unlisted_rows(conn: sqlite3.Connection, table: str) -> list[tuple[Any, Any]]:
    """Live rows of ``table`` whose name isn't in the listing: one index probe per row, in SQLite.
    ``+deleted_at`` keeps the planner off the deleted_at index: a scan of the table in id order
    reads each row once, where the index would add a rowid lookup per live row. Fetched at once
    (only the candidates come back), so no cursor is left open on the listing when it is dropped."""
    return conn.execute(
        f"SELECT id, file_name FROM {table} WHERE +deleted_at IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM temp.{_LISTING} AS f WHERE f.name = {table}.file_name) ORDER BY id"
    ).fetchall()


def _live_rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[Any, Any]]:
    yield from conn.execute(f"SELECT id, file_name FROM {table} WHERE deleted_at IS NULL ORDER BY id")


def missing_legacy_files(conn: sqlite3.Connection, dep: Deployment) -> list[MissingFile]:
    """Live images/docs rows whose file is not in uploads/images|docs.

    A row's file is there iff ``(uploads/<folder>/<name>).is_file()``: a symlink to a regular file
    counts, a directory or a dangling symlink doesn't. Each folder is listed once (``os.scandir``,
    streamed into a temp table in batches) and anti-joined with the live rows in SQLite, so the cost
    is one directory read plus one sort, not one ``stat`` per row, and memory stays flat at any size
    (the listing lives in SQLite's temp store). Only the rows the listing lacks come back, and each
    is confirmed with a ``stat`` (a file created since the listing, a case-insensitive file system),
    so the answer is the per-row ``is_file`` one. A folder that can't be listed falls back to a
    ``stat`` per row."""
    present = tables(conn)
    out: list[MissingFile] = []
    media = _Folder(dep.media_dir)
    try:
        for table, folder in FOLDERS.items():
            if table not in present:
                continue
            path = dep.uploads_dir / folder
            listed = _list_folder(conn, path)
            files = _Folder(path)
            try:
                has = files.has
                rows: Iterable[tuple[Any, Any]] = _unlisted_rows(conn, table) if listed else _live_rows(conn, table)
                for rid, name in rows:
                    ok = safe_name(name)
                    if ok is not None and has(ok):
                        continue
                    out.append(
                        MissingFile(
                            table=table,
                            id=int(rid),
                            file_name=str(name),
                            expected_path=f"uploads/{folder}/{name}",
                            copy_in_media=ok is not None and media.has(ok),
                        )
                    )
            finally:
                files.close()
                if listed:
                    conn.execute(f"DROP TABLE IF EXISTS temp.{_LISTING}")
    finally:
        media.close()
    return out


def copy_file_into_place(src: Path, dst: Path) -> bool:
    """Copy via a recognisable temp name beside ``dst``, then publish it with ``os.link`` (fails if
    ``dst`` exists, never overwrites): a crash leaves no half-written file under a real name.
    False if ``dst`` already exists."""
    tmp = dst.with_name(temp_name(dst.name, ".part"))
    try:
        with open(src, "rb") as fin, open(tmp, "xb") as fout:
            shutil.copyfileobj(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
        try:
            os.link(tmp, dst)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system: reserve the name exclusively, then rename
            try:
                os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return False
            os.replace(tmp, dst)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def restore_files(host: Host) -> RestoreFilesResult:
    """Copy missing legacy files back from uploads/media (never overwriting; safe while running)."""
    started = utcnow()
    dep = host.deployment
    require_healthy(dep, "check the legacy files against main.db")
    with open_ro(dep.db_path) as conn:
        missing = missing_legacy_files(conn, dep)
    copied: list[str] = []
    still: list[MissingFile] = []
    for m in missing:
        name = safe_name(m.file_name)
        src = dep.media_dir / name if name else None
        if name is None or src is None or not src.is_file():
            still.append(m)
            continue
        dst = dep.uploads_dir / FOLDERS[m.table] / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not copy_file_into_place(src, dst):
            continue  # appeared meanwhile: not ours to overwrite
        copied.append(m.expected_path)
    if not missing:
        outcome, summary = "noop", "every live images/docs row has its file; nothing to copy"
    elif still:
        outcome = "failed"
        summary = f"copied {len(copied)} file(s) back from uploads/media; {len(still)} still missing: " + ", ".join(
            m.expected_path for m in still[:5]
        )
    else:
        outcome, summary = "ok", f"copied {len(copied)} file(s) back from uploads/media; none missing now"
    return RestoreFilesResult(
        outcome=outcome,  # type: ignore[arg-type]
        summary=summary,
        started_at=started,
        copied=copied,
        still_missing=still,
        checked_rows_missing=len(missing),
    )
