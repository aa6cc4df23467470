"""Agent DB operations on a large generated go-fast-cdn deployment, each against a trivial baseline.

The deployment is built like sandbox.gofastcdn_fixture builds its small ones (same DDL, GORM time
text, pre-migration checksums, the fixture's own ``migrate``), only with bulk inserts: ``images``
live rows (1 in 50 soft-deleted) and ``docs`` live rows, an empty file per live row in uploads/,
a few media-only uploads after the migration, then the migration itself.

- backups_create vs ``shutil.copyfile`` of the same DB: the price of the online backup API, fsync,
  ``PRAGMA integrity_check`` and SHA-256 over a plain byte copy.
- rollback vs ``shutil.copyfile`` of the same (migrated) DB: rollback includes a full backup, the
  lost-row plan and the file checks, so this is "how many DB copies does a rollback cost".
- verify vs one read-only connection running ``SELECT COUNT(*)`` on images and docs; and vs that
  plus one ``os.path.isfile`` per live row (the least any check of "every file is present" can do).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from bench.report import Budget, Paired, Row, median
from ops.backups import create_backup
from ops.deployment import Deployment
from ops.gorm_time import format_gorm_time
from ops.host import Host
from ops.rollback import rollback
from ops.verify import verify
from sandbox.gofastcdn_fixture import (
    checksum_of,
    connect,
    create_pre_migration_deployment,
    make_host,
    migrate,
    upload_after_migration,
)

DELETED_EVERY = 50
UPLOADS_AFTER = 3


class OpFailed(RuntimeError):
    pass


def _rows(table: str, count: int, base: datetime) -> Iterator[tuple[str, str, str | None, str, bytes]]:
    ext = "png" if table == "images" else "pdf"
    for i in range(count):
        ts = format_gorm_time(base + timedelta(seconds=i, microseconds=(i * 7919) % 1_000_000))
        name = f"{table}-{i:07d}.{ext}"
        deleted = ts if i % DELETED_EVERY == DELETED_EVERY - 1 else None
        yield ts, ts, deleted, name, checksum_of(name.encode() * 40)


def build_large_deployment(root: Path, *, images: int, docs: int) -> Deployment:
    """A migrated deployment with ``images`` + ``docs`` legacy rows (and their files) and a media table."""
    dep = create_pre_migration_deployment(root)
    base = datetime(2025, 1, 1, 8, 0, 0).astimezone()
    with connect(dep.root) as conn:
        conn.execute("BEGIN")
        for table, count in (("images", images), ("docs", docs)):
            conn.executemany(
                f"INSERT INTO `{table}`(created_at, updated_at, deleted_at, file_name, checksum) VALUES (?,?,?,?,?)",
                _rows(table, count, base),
            )
        conn.execute("COMMIT")
        live = conn.execute(
            "SELECT 'images', file_name FROM images WHERE deleted_at IS NULL "
            "UNION ALL SELECT 'docs', file_name FROM docs WHERE deleted_at IS NULL"
        ).fetchall()
    for folder, name in live:  # verify and rollback check every live row's file exists
        os.close(os.open(dep.uploads_dir / folder / name, os.O_CREAT | os.O_WRONLY, 0o644))
    migrate(dep.root, copy_files=False)
    for n in range(UPLOADS_AFTER):
        upload_after_migration(dep.root, f"after-migration-{n}.png")
    return dep


def _clear_backups(dep: Deployment) -> None:
    for p in dep.backups_dir.iterdir():
        p.unlink()


def _count_pass(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for table in ("images", "docs"):
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    finally:
        conn.close()


def _count_and_stat_pass(dep: Deployment) -> None:
    """The floor of what verify must do: the counts, plus one stat per live legacy row's file."""
    conn = sqlite3.connect(f"file:{dep.db_path}?mode=ro", uri=True)
    try:
        for table in ("images", "docs"):
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            folder = os.fspath(dep.uploads_dir / table)
            for (name,) in conn.execute(f"SELECT file_name FROM {table} WHERE deleted_at IS NULL"):
                os.path.isfile(os.path.join(folder, name))
    finally:
        conn.close()


def bench_backup(host: Host, scratch: Path, n: int, budget: Budget) -> Paired:
    dep = host.deployment
    s = Paired()
    for i in range(n):
        if budget.expired() and len(s) >= 3:
            break
        res = s.run(i, lambda: create_backup(host, label="bench"), lambda: shutil.copyfile(dep.db_path, scratch))
        if res.outcome != "ok" or res.integrity != "ok":
            raise OpFailed(f"create_backup: {res.summary}")
        _clear_backups(dep)
    return s


def bench_rollback(host: Host, migrated: Path, scratch: Path, n: int, budget: Budget) -> Paired:
    """Each iteration starts from the same migrated DB (restored untimed)."""
    dep = host.deployment
    s = Paired()
    for i in range(n):
        if budget.expired() and len(s) >= 1:
            break
        shutil.copyfile(migrated, dep.db_path)
        _clear_backups(dep)
        res = s.run(i, lambda: rollback(host), lambda: shutil.copyfile(dep.db_path, scratch))
        if res.outcome != "ok" or res.action != "rollback" or len(res.lost_rows) != UPLOADS_AFTER:
            raise OpFailed(f"rollback: {res.summary}")
    return s


def bench_verify(host: Host, n: int, budget: Budget, *, with_files: bool = False) -> Paired:
    """Run after bench_rollback: the DB is rolled back and baseline.json is in place. The baseline is
    a COUNT(*) pass, or with ``with_files`` that plus a stat of every live row's file."""
    dep = host.deployment

    def floor() -> None:
        if with_files:
            _count_and_stat_pass(dep)
        else:
            _count_pass(dep.db_path)

    s = Paired()
    for i in range(n):
        if budget.expired() and len(s) >= 3:
            break
        res = s.run(i, lambda: verify(host), floor)
        if res.outcome != "ok":
            raise OpFailed(f"verify: {res.summary}")
    return s


def run(*, images: int = 50_000, docs: int = 20_000, iterations: int = 5, budget: Budget | None = None) -> list[Row]:
    budget = budget or Budget(60)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rollback-bench-db-") as tmp:
        work = Path(tmp)
        dep = build_large_deployment(work / "dep", images=images, docs=docs)
        host = make_host(dep.root)
        migrated = work / "migrated.db"
        shutil.copyfile(dep.db_path, migrated)
        scratch = work / "copy.db"
        size_mb = dep.db_path.stat().st_size / 1e6
        note = f"{images:,} images + {docs:,} docs, {size_mb:.1f} MB"
        steps = (
            ("backups_create vs copyfile", lambda b: bench_backup(host, scratch, iterations, b), 0.3),
            ("rollback vs copyfile", lambda b: bench_rollback(host, migrated, scratch, iterations, b), 0.7),
            ("verify vs SELECT COUNT(*)", lambda b: bench_verify(host, iterations, b), 0.5),
            ("verify vs COUNT(*) + stat files", lambda b: bench_verify(host, iterations, b, with_files=True), 1.0),
        )
        for goal, fn, share in steps:
            try:
                s = fn(budget.share(share))
            except OpFailed as exc:
                rows.append(Row(goal, 0.0, 0.0, note=f"FAILED: {exc}", ok=False))
                continue
            rows.append(Row(goal, median(s.measured), median(s.baseline), note=f"median, n={len(s)}; {note}"))
    return rows
