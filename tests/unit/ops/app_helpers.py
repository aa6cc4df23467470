"""Local helpers for the app-control tests: a tiny deployment built with plain sqlite3, and the
stand-in started as a real process whose cleanup never depends on the code under test."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.control import process as process_mod
from ops.control.config import ProcessConfig
from ops.control.process import ProcessController
from ops.deployment import Deployment
from ops.host import Host

REPO = Path(__file__).resolve().parents[3]
TS = "2025-07-30 05:20:24.70958194+00:00"
_MODEL_COLS = "`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,`updated_at` datetime,`deleted_at` datetime"
DDL = (
    f"CREATE TABLE `images` ({_MODEL_COLS},`file_name` text,`checksum` blob)",
    "CREATE INDEX `idx_images_deleted_at` ON `images`(`deleted_at`)",
    f"CREATE TABLE `docs` ({_MODEL_COLS},`file_name` text,`checksum` blob)",
    "CREATE INDEX `idx_docs_deleted_at` ON `docs`(`deleted_at`)",
    "CREATE TABLE `configs` (`key` text,`value` text,PRIMARY KEY (`key`))",
)
MEDIA_DDL = (
    f"CREATE TABLE `media` ({_MODEL_COLS},`file_name` text NOT NULL,`checksum` blob,"
    '`type` varchar(20) NOT NULL DEFAULT "document",`width` integer DEFAULT null,'
    "`height` integer DEFAULT null)"
)


def checksum(data: bytes) -> bytes:
    """Pre-migration checksum: MD5 of the zero-padded 512-byte head."""
    return hashlib.md5(data[:512].ljust(512, b"\0")).digest()


def add_row(root: Path, table: str, name: str, data: bytes | None, *, deleted: bool = False) -> int:
    """A live (or soft-deleted) row; ``data=None`` leaves the file missing on disk."""
    folder = {"images": "images", "docs": "docs"}[table]
    if data is not None:
        (root / "uploads" / folder / name).write_bytes(data)
    con = sqlite3.connect(root / "db_data" / "main.db")
    with con:
        cur = con.execute(
            f"INSERT INTO {table} (created_at, updated_at, deleted_at, file_name, checksum) VALUES (?,?,?,?,?)",
            (TS, TS, TS if deleted else None, name, checksum(data or b"")),
        )
    con.close()
    assert cur.lastrowid is not None
    return cur.lastrowid


def build_deployment(root: Path) -> Deployment:
    """Pre-migration deployment: 2 live images (+1 soft-deleted), 1 live doc, with files."""
    (root / "db_data").mkdir(parents=True)
    for sub in ("images", "docs", "media"):
        (root / "uploads" / sub).mkdir(parents=True)
    con = sqlite3.connect(root / "db_data" / "main.db")
    with con:
        for stmt in DDL:
            con.execute(stmt)
    con.close()
    add_row(root, "images", "cat.png", b"\x89PNG cat" * 100)
    add_row(root, "images", "old.png", b"old", deleted=True)
    add_row(root, "images", "dog photo.jpg", b"\xff\xd8 dog" * 50)
    add_row(root, "docs", "guide.pdf", b"%PDF guide")
    return Deployment.locate(root)


def migrate_to_media(root: Path) -> None:
    """Roughly what the forward migration does: live rows copied into media with new ids."""
    con = sqlite3.connect(root / "db_data" / "main.db")
    with con:
        con.execute(MEDIA_DDL)
        # ids continue after a deleted placeholder, so media ids differ from images ids (as after a real run)
        con.execute("INSERT INTO media (created_at, file_name, type) VALUES (?, 'x', 'video')", (TS,))
        con.execute("DELETE FROM media")
        for table, kind in (("images", "image"), ("docs", "document")):
            con.execute(
                f"INSERT INTO media (created_at, updated_at, file_name, checksum, type) "
                f"SELECT ?, ?, file_name, checksum, '{kind}' FROM {table} "
                "WHERE deleted_at IS NULL ORDER BY id",
                (TS, TS),
            )
    con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def standin_config(tmp: Path, root: Path, port: int, *extra: str) -> ProcessConfig:
    cmd = [sys.executable, "-m", "sandbox.gofastcdn_standin", "--root", str(root), "--port", str(port)]
    return ProcessConfig(
        command=[*cmd, *extra], pidfile=tmp / "run" / "app.pid", cwd=REPO, log_file=tmp / "logs" / "app.log"
    )


def wait_for_log(path: Path, needle: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} not in {path} within {timeout_s}s")


class Reaper:
    """Kills every process the test started (via the controller, or registered by hand), by group."""

    def __init__(self) -> None:
        self.before = set(process_mod._CHILDREN)
        self.procs: list[subprocess.Popen[bytes]] = []

    def add(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        new = [p for pid, p in list(process_mod._CHILDREN.items()) if pid not in self.before]
        for proc in [*new, *self.procs]:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    r = Reaper()
    yield r
    r.kill_all()


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return build_deployment(tmp_path / "dep")


@pytest.fixture
def process_host(
    tmp_path: Path, deployment: Deployment, reaper: Reaper
) -> Callable[..., tuple[Host, ProcessController]]:
    """A Host whose controller runs the stand-in (not started yet) on a free port."""

    def make(*extra: str, root: Path | None = None) -> tuple[Host, ProcessController]:
        port = free_port()
        cfg = standin_config(tmp_path, root or deployment.root, port, *extra)
        ctl = ProcessController(cfg)
        return Host(deployment=deployment, controller=ctl, api_url=f"http://127.0.0.1:{port}"), ctl

    return make
