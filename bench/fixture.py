"""Bulk builder for large migrated go-fast-cdn deployments, cached between bench runs.

The small fixtures in ``sandbox.gofastcdn_fixture`` insert row by row; at 2M rows that takes far too
long. This builder keeps what matters to the agent exactly the same (the reference DDL from that
module, GORM datetime text from ``ops.gorm_time``, 16-byte checksums, one file per live row,
the migration's ``media`` rows with new ids and migration-time timestamps, the live marker) and
writes it with ``executemany`` and ``INSERT … SELECT``. After the migration it does what a
migration-era server does, with the fixture's own functions: uploads, renames and deletes.

A built deployment is cached under ``$ROLLBACK_BENCH_CACHE`` (default ``~/.cache/rollback-bot-bench``)
by size and builder version, with the pristine migrated DB next to it, so a second run starts in
seconds. Operations only change ``db_data/`` and ``backups/``; :func:`reset` puts both back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from ops.deployment import Deployment
from ops.gorm_time import format_gorm_time, gorm_now
from sandbox.gofastcdn_fixture import (
    MARKER,
    MEDIA_DDL_A7396E9,
    MIGRATION_RECORDS_DDL,
    PRE_MIGRATION_DDL,
    connect,
    create_pre_migration_deployment,
    delete_after_migration,
    rename_after_migration,
    upload_after_migration,
)

BUILDER_VERSION = 1
DELETED_EVERY = 50  # one extra soft-deleted legacy row per 50 live ones (no file, not migrated)


@dataclass(frozen=True)
class Size:
    name: str
    images: int  # live images rows (each migrated into media, each with a file)
    docs: int
    uploads_after: int  # media-only rows uploaded after the migration (lost by a rollback)
    renames_after: int  # migrated images renamed after the migration (lost: media has the new name)
    deletes_after: int  # migrated images deleted after the migration (their legacy row revives)


SIZES: dict[str, Size] = {
    "tiny": Size("tiny", 500, 500, 3, 2, 2),
    "small": Size("small", 25_000, 25_000, 5, 3, 3),
    "200k": Size("200k", 100_000, 100_000, 10, 5, 5),
    "2m": Size("2m", 1_000_000, 1_000_000, 20, 10, 10),
}


class Manifest(BaseModel):
    """What the cached deployment holds: the bench checks every operation's result against it."""

    size: str
    builder_version: int
    images_live: int
    images_raw: int
    docs_live: int
    docs_raw: int
    media_rows: int
    lost_rows: int  # uploads + renames
    deletes_undone: int
    db_bytes: int
    build_seconds: float
    pre_migration_backup: str


@dataclass(frozen=True)
class BenchDeployment:
    root: Path  # the cache entry
    deployment: Deployment
    migrated_db: Path  # pristine copy of the migrated main.db
    manifest: Manifest


def cache_root() -> Path:
    return Path(os.environ.get("ROLLBACK_BENCH_CACHE") or Path.home() / ".cache" / "rollback-bot-bench")


def _key(size: Size) -> str:
    """Changes whenever the DDL or the builder changes, so a stale cache is never used."""
    ddl = "\n".join(PRE_MIGRATION_DDL + MIGRATION_RECORDS_DDL + MEDIA_DDL_A7396E9)
    h = hashlib.sha256(f"{BUILDER_VERSION}\n{size}\n{ddl}".encode()).hexdigest()[:12]
    return f"{size.name}-{h}"


def _legacy_rows(table: str, live: int, base: datetime) -> Iterator[tuple[str, str, str | None, str, bytes]]:
    """``live`` live rows plus one soft-deleted row after every ``DELETED_EVERY``; GORM time text,
    names unique across both tables, 16-byte checksums unique per name."""
    ext = "png" if table == "images" else "pdf"
    step = timedelta(seconds=1)
    for i in range(live + live // DELETED_EVERY):
        at = base + step * i + timedelta(microseconds=(i * 7919) % 1_000_000)
        ts = format_gorm_time(at)
        deleted = i % (DELETED_EVERY + 1) == DELETED_EVERY
        name = f"{table}-{i:07d}.{ext}"
        yield ts, ts, (ts if deleted else None), name, hashlib.md5(name.encode()).digest()


def _touch_files(folder: Path, names: Iterator[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd_dir = os.open(folder, os.O_RDONLY)
    try:
        flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
        for name in names:
            os.close(os.open(name, flags, 0o644, dir_fd=fd_dir))
    finally:
        os.close(fd_dir)


def build(root: Path, size: Size) -> Manifest:
    """Build a migrated deployment at ``root`` (must not exist). Returns what it holds."""
    started = time.monotonic()
    dep = create_pre_migration_deployment(root)
    base = datetime(2024, 3, 1, 8, 0, 0).astimezone()
    with connect(dep.root) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA journal_mode=MEMORY")
        conn.execute("BEGIN")
        for table, live in (("images", size.images), ("docs", size.docs)):
            conn.executemany(
                f"INSERT INTO `{table}`(created_at, updated_at, deleted_at, file_name, checksum) VALUES (?,?,?,?,?)",
                _legacy_rows(table, live, base),
            )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=DELETE")
    for table in ("images", "docs"):
        with connect(dep.root) as conn:
            names = conn.execute(f"SELECT file_name FROM `{table}` WHERE deleted_at IS NULL ORDER BY id")
            _touch_files(dep.uploads_dir / table, (n for (n,) in names))
    backup_name = "db_backup_20240601-120000.db"  # go-fast-cdn's own byte copy, before the migration
    shutil.copyfile(dep.db_path, dep.backups_dir / backup_name)
    # the migration (reference 3.1), in SQL: new ids, created_at = updated_at = migration time
    with connect(dep.root) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for stmt in MIGRATION_RECORDS_DDL + MEDIA_DDL_A7396E9:
            conn.execute(stmt)
        now = gorm_now()
        for table, mtype in (("images", "image"), ("docs", "document")):
            conn.execute(
                "INSERT INTO media(created_at, updated_at, deleted_at, file_name, checksum, type, width, height) "
                f"SELECT ?, ?, NULL, file_name, checksum, ?, NULL, NULL FROM `{table}` "
                "WHERE deleted_at IS NULL ORDER BY id",
                (now, now, mtype),
            )
        conn.execute(
            "INSERT INTO migration_records(name, completed, created_at, updated_at, deleted_at) "
            "VALUES (?, 1, ?, ?, NULL)",
            (MARKER, now, now),
        )
        conn.execute("COMMIT")
    dep.media_dir.mkdir(parents=True, exist_ok=True)  # the files' media copies aren't needed by the bench
    time.sleep(0.002)  # later uploads get later GORM times than the marker
    for n in range(size.uploads_after):
        upload_after_migration(dep.root, f"after-migration-{n}.png", b"uploaded after the migration %d" % n)
    for n in range(size.renames_after):
        old = f"images-{n * 7:07d}.png"
        rename_after_migration(dep.root, old, f"renamed-{n}.png")
    for n in range(size.deletes_after):
        delete_after_migration(dep.root, f"images-{(n + 1) * 13:07d}.png")
    with connect(dep.root) as conn:
        conn.execute("VACUUM")  # a realistic, compact file (what the peer pipelines copy too)
        images_live, images_raw, docs_live, docs_raw, media_rows = conn.execute(
            "SELECT (SELECT COUNT(*) FROM images WHERE deleted_at IS NULL), (SELECT COUNT(*) FROM images), "
            "(SELECT COUNT(*) FROM docs WHERE deleted_at IS NULL), (SELECT COUNT(*) FROM docs), "
            "(SELECT COUNT(*) FROM media)"
        ).fetchone()
    # the deletes removed legacy files: put them back so verify passes after the rollback
    for n in range(size.deletes_after):
        _touch_files(dep.images_dir, iter([f"images-{(n + 1) * 13:07d}.png"]))
    # renamed legacy files: the rollback brings back the old name, so its file must exist too
    for n in range(size.renames_after):
        _touch_files(dep.images_dir, iter([f"images-{n * 7:07d}.png"]))
    return Manifest(
        size=size.name,
        builder_version=BUILDER_VERSION,
        images_live=images_live,
        images_raw=images_raw,
        docs_live=docs_live,
        docs_raw=docs_raw,
        media_rows=media_rows,
        lost_rows=size.uploads_after + size.renames_after,
        deletes_undone=size.deletes_after,
        db_bytes=dep.db_path.stat().st_size,
        build_seconds=round(time.monotonic() - started, 1),
        pre_migration_backup=backup_name,
    )


def get(size_name: str, *, log: bool = True) -> BenchDeployment:
    """The cached deployment for ``size_name``, built first if missing (build in a temp folder,
    renamed into place when complete, so an interrupted build is never used)."""
    size = SIZES[size_name]
    entry = cache_root() / _key(size)
    manifest_path = entry / "manifest.json"
    if not manifest_path.is_file():
        cache_root().mkdir(parents=True, exist_ok=True)
        for stale in cache_root().glob(f"{size.name}-*"):  # older builder versions of this size
            shutil.rmtree(stale, ignore_errors=True)
        building = cache_root() / f".building-{_key(size)}-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        if log:
            print(f"bench: building the {size.name} deployment ({size.images:,} images + {size.docs:,} docs) …")
        manifest = build(building / "dep", size)
        shutil.copyfile(building / "dep" / "db_data" / "main.db", building / "migrated.db")
        (building / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        os.replace(building, entry)
        if log:
            mb = manifest.db_bytes / 1e6
            print(f"bench: built in {manifest.build_seconds:.0f} s, DB {mb:.0f} MB, cached in {entry}")
    manifest = Manifest.model_validate(json.loads(manifest_path.read_text()))
    bd = BenchDeployment(
        root=entry, deployment=Deployment(root=entry / "dep"), migrated_db=entry / "migrated.db", manifest=manifest
    )
    reset(bd)
    return bd


def reset(bd: BenchDeployment, *, db: bool = True) -> None:
    """Back to the cached state: the migrated DB, no agent state, only the go-fast-cdn backup."""
    dep = bd.deployment
    if db:
        shutil.copyfile(bd.migrated_db, dep.db_path)
    for p in dep.db_dir.iterdir():
        if p != dep.db_path:
            p.unlink()
    for p in dep.backups_dir.iterdir():
        if p.name != bd.manifest.pre_migration_backup:
            p.unlink()
    shutil.rmtree(dep.state_dir, ignore_errors=True)
