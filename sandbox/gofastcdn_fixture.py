"""Build go-fast-cdn deployments with Python's sqlite3, as go-fast-cdn's own tools would leave them.

go-fast-cdn can't be built here (reference section 6), so tests and the demo build its state
directly: the GORM DDL of reference 2.2/2.3, GORM datetime text, 16-byte MD5-of-512-byte-head
checksums, real files in ``uploads/``, and the forward migration / built-in rollback exactly as
the fork's media_migration does them (new ids, migration-time timestamps, live rows only,
soft-deleted marker on rollback, byte-identical DB after a failed migration).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from ops.control.base import AppState
from ops.deployment import Deployment
from ops.gorm_time import format_gorm_time, gorm_now
from ops.host import Host

MARKER = "media_unification_2024"
MediaSchema = Literal["a7396e9", "tip"]

# --- reference 2.2: what the pre-migration app (fork main / upstream) creates -------------------
PRE_MIGRATION_DDL: tuple[str, ...] = (
    "CREATE TABLE `images` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`file_name` text,`checksum` blob)",
    "CREATE INDEX `idx_images_deleted_at` ON `images`(`deleted_at`)",
    "CREATE TABLE `docs` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`file_name` text,`checksum` blob)",
    "CREATE INDEX `idx_docs_deleted_at` ON `docs`(`deleted_at`)",
    "CREATE TABLE `configs` (`key` text,`value` text,PRIMARY KEY (`key`))",
    "CREATE TABLE `users` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`email` text NOT NULL UNIQUE,"
    '`password_hash` text NOT NULL,`role` text DEFAULT "user",`is_verified` numeric DEFAULT false,'
    "`last_login` datetime,`is2_fa_enabled` numeric DEFAULT false,`two_fa_secret` text DEFAULT null)",
    "CREATE INDEX `idx_users_deleted_at` ON `users`(`deleted_at`)",
    "CREATE TABLE `user_sessions` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`user_id` integer NOT NULL,"
    "`refresh_token` text NOT NULL UNIQUE,`expires_at` datetime NOT NULL,"
    "`is_revoked` numeric DEFAULT false)",
    "CREATE INDEX `idx_user_sessions_deleted_at` ON `user_sessions`(`deleted_at`)",
    "CREATE TABLE `password_resets` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`user_id` integer NOT NULL,"
    "`token` text NOT NULL UNIQUE,`expires_at` datetime NOT NULL,`is_used` numeric DEFAULT false)",
    "CREATE INDEX `idx_password_resets_deleted_at` ON `password_resets`(`deleted_at`)",
)

# --- reference 2.3: added by the migration --------------------------------------------------------
MIGRATION_RECORDS_DDL: tuple[str, ...] = (
    "CREATE TABLE `migration_records` (`id` integer PRIMARY KEY AUTOINCREMENT,`name` text NOT NULL,"
    "`completed` numeric NOT NULL DEFAULT false,`created_at` datetime,`updated_at` datetime,"
    "`deleted_at` datetime)",
    "CREATE INDEX `idx_migration_records_deleted_at` ON `migration_records`(`deleted_at`)",
    "CREATE UNIQUE INDEX `idx_migration_records_name` ON `migration_records`(`name`)",
)
MEDIA_DDL_A7396E9: tuple[str, ...] = (
    "CREATE TABLE `media` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`file_name` text,`checksum` blob,"
    '`type` varchar(20) NOT NULL DEFAULT "document",`width` integer DEFAULT null,'
    "`height` integer DEFAULT null)",
    "CREATE INDEX `idx_media_deleted_at` ON `media`(`deleted_at`)",
    "CREATE UNIQUE INDEX `idx_media_file_name` ON `media`(`file_name`)",
)
MEDIA_DDL_TIP: tuple[str, ...] = (
    "CREATE TABLE `media` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,"
    "`updated_at` datetime,`deleted_at` datetime,`file_name` text NOT NULL,`checksum` blob,"
    '`type` varchar(20) NOT NULL DEFAULT "document",`width` integer DEFAULT null,'
    "`height` integer DEFAULT null)",
    "CREATE INDEX `idx_media_deleted_at` ON `media`(`deleted_at`)",
)
MEDIA_TIP_COMPOSITE_INDEX = "CREATE UNIQUE INDEX `idx_media_file_name_type` ON `media`(`file_name`,`type`)"

LEGACY_FOLDER = {"images": "images", "docs": "docs"}
MEDIA_TYPE = {"images": "image", "docs": "document"}


def checksum_of(data: bytes) -> bytes:
    """go-fast-cdn's pre-migration checksum: MD5 of a 512-byte buffer with the file's head, zero-padded."""
    return hashlib.md5(data[:512].ljust(512, b"\0")).digest()


def default_content(name: str, size: int = 700) -> bytes:
    """Deterministic distinct bytes per name, longer than 512 so the checksum isn't the file's MD5."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class FixedStateController:
    """An AppController whose state is whatever the test says (``running`` True/False/None)."""

    kind = "fixed"

    def __init__(self, running: bool | None = False, detail: str = "") -> None:
        self.running = running
        self.detail = detail
        self.calls: list[str] = []

    def state(self) -> AppState:
        self.calls.append("state")
        detail = self.detail or {True: "running", False: "stopped", None: "unknown"}[self.running]
        return AppState(running=self.running, detail=detail, pid=4242 if self.running else None)

    def stop(self, timeout_s: float) -> AppState:
        self.calls.append("stop")
        self.running = False
        return self.state()

    def start(self, timeout_s: float) -> AppState:
        self.calls.append("start")
        self.running = True
        return self.state()

    def logs(self, lines: int) -> list[str]:
        return [f"fixed controller: running={self.running}"][:lines]


def make_host(root: Path, running: bool | None = False) -> Host:
    return Host(deployment=Deployment(root=Path(root)), controller=FixedStateController(running))


@contextmanager
def connect(root: Path) -> Iterator[sqlite3.Connection]:
    """A read-write connection in autocommit mode (we issue BEGIN ourselves, like GORM's transactions)."""
    conn = sqlite3.connect(Deployment(root=Path(root)).db_path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _ts(at: datetime | None) -> str:
    return format_gorm_time(at) if at is not None else gorm_now()


# --- pre-migration deployment ---------------------------------------------------------------------
def create_pre_migration_deployment(root: Path, *, registration_enabled: bool = True) -> Deployment:
    """An empty pre-migration deployment: DB with reference 2.2 tables, upload folders, backups/."""
    dep = Deployment(root=Path(root))
    for d in (dep.db_dir, dep.images_dir, dep.docs_dir, dep.backups_dir):
        d.mkdir(parents=True, exist_ok=True)
    with connect(dep.root) as conn:
        conn.execute("BEGIN")
        for stmt in PRE_MIGRATION_DDL:
            conn.execute(stmt)
        conn.execute(
            "INSERT INTO configs(key, value) VALUES ('registration_enabled', ?)",
            ("true" if registration_enabled else "false",),
        )
        now = gorm_now()
        conn.execute(
            "INSERT INTO users(created_at, updated_at, email, password_hash, role, is_verified) "
            "VALUES (?, ?, 'admin@example.com', '$2a$10$fixturefixturefixturefixtureO', 'admin', 1)",
            (now, now),
        )
        conn.execute("COMMIT")
    return dep


def add_file_row(
    root: Path,
    table: Literal["images", "docs"],
    name: str,
    data: bytes | None = None,
    *,
    deleted: bool = False,
    write_file: bool = True,
    at: datetime | None = None,
) -> int:
    """An upload through the pre-migration API: a row in images/docs plus the file (soft delete
    also removes the file, as DELETE /api/cdn/delete/... does). Returns the row id."""
    dep = Deployment(root=Path(root))
    body = default_content(name) if data is None else data
    created = _ts(at)
    with connect(dep.root) as conn:
        cur = conn.execute(
            f"INSERT INTO `{table}`(created_at, updated_at, deleted_at, file_name, checksum) VALUES (?, ?, NULL, ?, ?)",
            (created, created, name, checksum_of(body)),
        )
        row_id = int(cur.lastrowid or 0)
        if deleted:
            conn.execute(f"UPDATE `{table}` SET deleted_at = ? WHERE id = ?", (gorm_now(), row_id))
    folder = dep.uploads_dir / LEGACY_FOLDER[table]
    if write_file and not deleted:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(body)
    return row_id


def add_image(root: Path, name: str, data: bytes | None = None, **kw: object) -> int:
    return add_file_row(root, "images", name, data, **kw)  # type: ignore[arg-type]


def add_doc(root: Path, name: str, data: bytes | None = None, **kw: object) -> int:
    return add_file_row(root, "docs", name, data, **kw)  # type: ignore[arg-type]


def soft_delete_row(root: Path, table: str, name: str) -> None:
    """GORM soft delete: only deleted_at changes (updated_at stays)."""
    with connect(root) as conn:
        conn.execute(
            f"UPDATE `{table}` SET deleted_at = ? WHERE file_name = ? AND deleted_at IS NULL",
            (gorm_now(), name),
        )


# --- the migration, as media_migration does it ---------------------------------------------------
def create_media_table(conn: sqlite3.Connection, schema: MediaSchema, *, tip_index: bool = True) -> None:
    for stmt in MEDIA_DDL_A7396E9 if schema == "a7396e9" else MEDIA_DDL_TIP:
        conn.execute(stmt)
    if schema == "tip" and tip_index:
        conn.execute(MEDIA_TIP_COMPOSITE_INDEX)


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def migrate(
    root: Path, *, schema: MediaSchema = "a7396e9", tip_index: bool = True, copy_files: bool = True
) -> Literal["migrated", "skipped"]:
    """go-fast-cdn's forward media migration (reference 3.1, 9).

    One transaction: migration_records + media created, live images then live docs inserted with
    new ids and created_at = updated_at = now, then the marker (FirstOrCreate; a soft-deleted marker
    makes it fail with ``UNIQUE constraint failed: migration_records.name`` and everything is rolled
    back, leaving the file byte-identical). Then files are copied into uploads/media (skip existing).
    Raises ``sqlite3.IntegrityError`` like the real tool exits 1.
    """
    dep = Deployment(root=Path(root))
    with connect(dep.root) as conn:
        if _table_exists(conn, "migration_records"):
            live = conn.execute(
                "SELECT 1 FROM migration_records WHERE name=? AND completed=1 AND deleted_at IS NULL",
                (MARKER,),
            ).fetchone()
            if live:
                return "skipped"
        conn.execute("BEGIN")
        try:
            if not _table_exists(conn, "migration_records"):
                for stmt in MIGRATION_RECORDS_DDL:
                    conn.execute(stmt)
            if not _table_exists(conn, "media"):
                create_media_table(conn, schema, tip_index=tip_index)
            for table in ("images", "docs"):
                rows = conn.execute(
                    f"SELECT file_name, checksum FROM `{table}` WHERE deleted_at IS NULL ORDER BY id"
                ).fetchall()
                for file_name, checksum in rows:
                    now = gorm_now()
                    conn.execute(
                        "INSERT INTO media(created_at, updated_at, deleted_at, file_name, checksum, type, "
                        "width, height) VALUES (?, ?, NULL, ?, ?, ?, NULL, NULL)",
                        (now, now, file_name, checksum, MEDIA_TYPE[table]),
                    )
            existing = conn.execute(
                "SELECT 1 FROM migration_records WHERE name=? AND deleted_at IS NULL", (MARKER,)
            ).fetchone()
            if not existing:
                now = gorm_now()
                conn.execute(
                    "INSERT INTO migration_records(name, completed, created_at, updated_at, deleted_at) "
                    "VALUES (?, 1, ?, ?, NULL)",
                    (MARKER, now, now),
                )
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
    if copy_files:
        dep.media_dir.mkdir(parents=True, exist_ok=True)
        for folder in (dep.images_dir, dep.docs_dir):
            if not folder.is_dir():
                continue
            for f in sorted(folder.iterdir()):
                dst = dep.media_dir / f.name
                if f.is_file() and not dst.exists():
                    shutil.copy2(f, dst)
    return "migrated"


def builtin_rollback(root: Path) -> Literal["rolled back", "nothing"]:
    """go-fast-cdn's ``media_migration --rollback``: DROP media, soft-delete the marker (deleted_at only)."""
    with connect(root) as conn:
        if not _table_exists(conn, "migration_records"):
            return "nothing"
        row = conn.execute(
            "SELECT id FROM migration_records WHERE name=? AND completed=1 AND deleted_at IS NULL", (MARKER,)
        ).fetchone()
        if not row:
            return "nothing"
        conn.execute("BEGIN")
        conn.execute("DROP TABLE IF EXISTS `media`")
        conn.execute("UPDATE migration_records SET deleted_at=? WHERE id=?", (gorm_now(), row[0]))
        conn.execute("COMMIT")
    return "rolled back"


# --- what happens after the migration (migration-era server) --------------------------------------
def upload_after_migration(
    root: Path, name: str, data: bytes | None = None, *, media_type: str = "image", folder: str = "media"
) -> int:
    """A migration-era upload: a media-only row; the file goes to uploads/<folder> (media for
    /upload/media, images|docs for the legacy routes). Returns the media id."""
    dep = Deployment(root=Path(root))
    body = default_content(name) if data is None else data
    now = gorm_now()
    with connect(dep.root) as conn:
        cur = conn.execute(
            "INSERT INTO media(created_at, updated_at, deleted_at, file_name, checksum, type) "
            "VALUES (?, ?, NULL, ?, ?, ?)",
            (now, now, name, hashlib.md5(body).digest(), media_type),
        )
        media_id = int(cur.lastrowid or 0)
    target = dep.uploads_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    (target / name).write_bytes(body)
    return media_id


def rename_after_migration(root: Path, old: str, new: str, *, table: Literal["images", "docs"] = "images") -> None:
    """PUT /rename/image on a migration-era server: renames the media row and the legacy file only."""
    dep = Deployment(root=Path(root))
    with connect(dep.root) as conn:
        conn.execute(
            "UPDATE media SET file_name=?, updated_at=? WHERE file_name=? AND type=? AND deleted_at IS NULL",
            (new, gorm_now(), old, MEDIA_TYPE[table]),
        )
    src = dep.uploads_dir / LEGACY_FOLDER[table] / old
    if src.exists():
        src.rename(src.with_name(new))


def delete_after_migration(root: Path, name: str, *, table: Literal["images", "docs"] = "images") -> None:
    """DELETE /delete/image on a migration-era server: soft-deletes the media row, removes the legacy file."""
    dep = Deployment(root=Path(root))
    with connect(dep.root) as conn:
        conn.execute(
            "UPDATE media SET deleted_at=? WHERE file_name=? AND type=? AND deleted_at IS NULL",
            (gorm_now(), name, MEDIA_TYPE[table]),
        )
    (dep.uploads_dir / LEGACY_FOLDER[table] / name).unlink(missing_ok=True)


def remove_file(root: Path, folder: Literal["images", "docs", "media"], name: str) -> None:
    """A missing file (e.g. after ``file_migration --cleanup``)."""
    (Deployment(root=Path(root)).uploads_dir / folder / name).unlink(missing_ok=True)


def recreate_empty_media_tip(root: Path) -> None:
    """What any tip binary's ConnectToDB does after a rollback: an empty media table + composite index."""
    with connect(root) as conn:
        if not _table_exists(conn, "media"):
            conn.execute("BEGIN")
            create_media_table(conn, "tip", tip_index=True)
            conn.execute("COMMIT")


# --- files next to the DB --------------------------------------------------------------------------
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def leave_journal(root: Path, kind: Literal["hot", "empty", "zeroed"] = "hot") -> Path:
    """A leftover ``main.db-journal``: ``hot`` has the journal magic (a crashed writer's), ``empty`` is
    zero-length, ``zeroed`` has a zeroed header (both of the latter are harmless)."""
    p = Deployment(root=Path(root)).journal_path
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "zeroed":
        p.write_bytes(b"\0" * 512)
    else:
        p.write_bytes(JOURNAL_MAGIC + b"\xff\xff\xff\xff" + b"\x12\x34\x56\x78" + b"\0" * 496)
    return p


def write_garbage_backup(root: Path, name: str = "db_backup_20250101-000000.db") -> Path:
    p = Deployment(root=Path(root)).backups_dir / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"this is not a sqlite database\n" * 40)
    return p


def gofastcdn_backup_name(at: datetime) -> str:
    """``db_backup_YYYYMMDD-HHMMSS.db`` (go-fast-cdn uses local time, 1-second resolution)."""
    return f"db_backup_{at.strftime('%Y%m%d-%H%M%S')}.db"


def make_gofastcdn_backup(root: Path, at: datetime | None = None) -> Path:
    """``db_backup create``: a plain byte copy of main.db (no journal, no backup API)."""
    dep = Deployment(root=Path(root))
    dep.backups_dir.mkdir(parents=True, exist_ok=True)
    dst = dep.backups_dir / gofastcdn_backup_name(at or datetime.now())
    shutil.copyfile(dep.db_path, dst)
    return dst


# --- one call for the demo and end-to-end tests -----------------------------------------------------
@dataclass
class FixtureInfo:
    root: Path
    deployment: Deployment
    schema: MediaSchema
    images: list[str] = field(default_factory=list)  # live images
    docs: list[str] = field(default_factory=list)  # live docs
    soft_deleted_images: list[str] = field(default_factory=list)
    uploaded_after: list[str] = field(default_factory=list)  # media-only rows
    pre_migration_backup: str | None = None
    images_live: int = 0
    images_raw: int = 0
    docs_live: int = 0
    docs_raw: int = 0

    def host(self, running: bool | None = False) -> Host:
        return Host(deployment=self.deployment, controller=FixedStateController(running))


def build_pre_migration_deployment(
    root: Path,
    *,
    images: tuple[str, ...] = ("cat.png", "dog.jpg", "logo.svg"),
    docs: tuple[str, ...] = ("manual.pdf", "notes.txt"),
    soft_deleted_images: tuple[str, ...] = ("old-banner.png",),
) -> FixtureInfo:
    dep = create_pre_migration_deployment(root)
    base = datetime(2025, 7, 1, 9, 0, 0).astimezone()
    for i, name in enumerate(images):
        add_image(dep.root, name, at=base + timedelta(minutes=i, microseconds=123457 * (i + 1)))
    for name in soft_deleted_images:
        add_image(dep.root, name, deleted=True, at=base + timedelta(hours=1))
    for i, name in enumerate(docs):
        add_doc(dep.root, name, at=base + timedelta(hours=2, minutes=i))
    return FixtureInfo(
        root=dep.root,
        deployment=dep,
        schema="a7396e9",
        images=list(images),
        docs=list(docs),
        soft_deleted_images=list(soft_deleted_images),
        images_live=len(images),
        images_raw=len(images) + len(soft_deleted_images),
        docs_live=len(docs),
        docs_raw=len(docs),
    )


def build_migrated_deployment(
    root: Path,
    *,
    schema: MediaSchema = "a7396e9",
    uploads_after: tuple[str, ...] = ("after-migration.png",),
    tip_index: bool = True,
    backup_at: datetime | None = None,
) -> FixtureInfo:
    """A migrated deployment: 3 live images + 1 soft-deleted image + 2 docs, a go-fast-cdn style
    pre-migration backup, the migration (``schema``), and ``uploads_after`` media-only rows."""
    info = build_pre_migration_deployment(root)
    info.schema = schema
    backup = make_gofastcdn_backup(info.root, backup_at or datetime(2025, 7, 30, 20, 33, 39))
    info.pre_migration_backup = backup.name
    migrate(info.root, schema=schema, tip_index=tip_index)
    for name in uploads_after:
        upload_after_migration(info.root, name)
    info.uploaded_after = list(uploads_after)
    return info
