"""A stand-in for the go-fast-cdn server, modelling each binary a team may actually run.

Serves a deployment folder (``db_data/main.db`` + ``uploads/``) the way gin/GORM do, as observed on
the real builds (``--binary``):

- ``pre-migration`` (fork main / upstream): ``/api/cdn/{image,doc}/all`` read ``images``/``docs``;
  uploads write them; no media routes (404).
- ``migration-era`` (a7396e9): the legacy lists still read ``images``/``docs``; ``/api/cdn/media/all``
  reads ``media`` and answers 200 ``null`` when the table is gone; *every* upload (legacy or media)
  writes ``media``, so after a rollback each one fails with 500 "no such table: media".
- ``tip``: reads and writes only ``media`` (legacy lists filter it by type), and its connect step
  re-creates an empty ``media`` table (tip DDL + composite index) at start-up.

All binaries: ``GET /api/`` -> "pong"; ``/api`` -> 301 to ``/api/``; HEAD is 404; 404 bodies are
``404 page not found\n`` as ``text/plain; charset=utf-8``; media JSON omits null width/height.
Like GORM's connection pool the server keeps ``main.db`` open for its whole life (so the agent's
open-file check sees it), and reads each request on a fresh connection (so it sees a swapped file).
Uploads need ``Authorization: Bearer <JWT HS256>`` signed with ``JWT_SECRET`` (go-fast-cdn's default
secret when unset); ``make_token`` builds one. Loopback only.
Run: ``python -m sandbox.gofastcdn_standin --root DEPLOYMENT --port PORT [--binary pre-migration]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import ipaddress
import json
import mimetypes
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ops.gorm_time import gorm_now
from sandbox.gofastcdn_fixture import MEDIA_DDL_TIP, MEDIA_TIP_COMPOSITE_INDEX

_GORM_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?$")
_ZERO_TIME = "0001-01-01T00:00:00Z"
# The tip stores media.type as image/document/video/audio; the legacy listings filter on it.
_MEDIA_TYPE = {"image": "image", "doc": "document"}
_UPLOAD_DIR = {"images": "images", "docs": "docs", "media": "media"}


def go_time(value: Any) -> str | None:
    """GORM datetime text -> Go's JSON time (RFC 3339, nanoseconds trimmed, "Z" for UTC)."""
    if value is None:
        return None
    m = _GORM_TIME.match(str(value).strip())
    if not m:
        return str(value)
    date, clock, frac, off = m.groups()
    frac = (frac or "").rstrip("0")
    off = off or "Z"
    if off in ("+00:00", "-00:00", "+0000", "-0000"):
        off = "Z"
    elif off != "Z" and ":" not in off:
        off = off[:3] + ":" + off[3:]
    return f"{date}T{clock}{'.' + frac if frac else ''}{off}"


def row_json(row: sqlite3.Row) -> dict[str, Any]:
    """One GORM model row as gin renders it (gorm.Model fields keep their Go names)."""
    checksum = row["checksum"]
    if isinstance(checksum, str):
        checksum = checksum.encode()
    out: dict[str, Any] = {
        "ID": row["id"],
        "CreatedAt": go_time(row["created_at"]) or _ZERO_TIME,
        "UpdatedAt": go_time(row["updated_at"]) or _ZERO_TIME,
        "DeletedAt": go_time(row["deleted_at"]),
        "file_name": row["file_name"] or "",
        "checksum": base64.b64encode(checksum).decode() if checksum is not None else None,
    }
    keys = row.keys()
    for col in ("type", "width", "height"):
        if col in keys:
            out[col] = row[col]
    return out


Binary = Literal["pre-migration", "migration-era", "tip"]
BINARIES: tuple[str, ...] = ("pre-migration", "migration-era", "tip")
DEFAULT_JWT_SECRET = "your-super-secret-jwt-key"  # go-fast-cdn's default when JWT_SECRET is unset
_LEGACY = {"image": ("images", "images", "image"), "doc": ("docs", "docs", "doc")}  # table, folder, form field


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(secret: str = DEFAULT_JWT_SECRET, *, user_id: int = 1, ttl_s: int = 900) -> str:
    """An access token go-fast-cdn would accept (HS256, ``exp`` in the future)."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"user_id": user_id, "role": "admin", "exp": int(time.time()) + ttl_s}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    return f"{head}.{claims}.{_b64url(sig)}"


def check_token(header: str | None, secret: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    parts = header.removeprefix("Bearer ").strip().split(".")
    if len(parts) != 3:
        return False
    want = _b64url(hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want, parts[2]):
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    return isinstance(claims, dict) and float(claims.get("exp", 0)) > time.time()


def media_json(row: sqlite3.Row) -> dict[str, Any]:
    """A media row as the migration-era/tip binary renders it: null width/height are omitted."""
    out = row_json(row)
    for col in ("width", "height"):
        if out.get(col) is None:
            out.pop(col, None)
    return out


class StandinApp:
    """The request logic, separate from HTTP plumbing so it is easy to read and to test."""

    def __init__(self, root: Path, binary: Binary = "pre-migration") -> None:
        if binary not in BINARIES:
            raise ValueError(f"unknown binary {binary!r}; one of {', '.join(BINARIES)}")
        self.root = root
        self.binary = binary
        self.db_path = root / "db_data" / "main.db"
        self.jwt_secret = os.environ.get("JWT_SECRET") or DEFAULT_JWT_SECRET
        self._held: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """What the binary does when it starts: connect (the tip re-creates media) and keep the pool."""
        if not self.db_path.is_file():
            return  # the stand-in never creates a DB (the real one would create an empty one)
        if self.binary == "tip":
            with self._write_lock, closing(sqlite3.connect(self.db_path, timeout=5)) as con:
                if not self._table_in(con, "media"):
                    with con:
                        for stmt in MEDIA_DDL_TIP:
                            con.execute(stmt)
                        con.execute(MEDIA_TIP_COMPOSITE_INDEX)
        self._held = sqlite3.connect(self.db_path, check_same_thread=False)
        self._held.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    # -- reads ----------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if not self.db_path.is_file():
            raise FileNotFoundError(f"{self.db_path} does not exist")
        # mode=ro: never create the file, never take a write lock; a fresh connection per request
        # sees a DB file that was swapped underneath us.
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    @staticmethod
    def _table_in(con: sqlite3.Connection, name: str) -> bool:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None

    def _has_table(self, name: str) -> bool:
        rows = self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return bool(rows)

    def serves_media(self) -> bool:
        return self.binary != "pre-migration"

    def listing(self, kind: str) -> list[dict[str, Any]] | None:
        """Rows of a listing route; None is Go's nil slice (JSON ``null``): GORM's error on a missing
        table is ignored by the media handler."""
        if kind == "media" or self.binary == "tip":
            if not self._has_table("media"):
                return None if kind == "media" else []
            sql = "SELECT * FROM media WHERE deleted_at IS NULL"
            params: tuple[Any, ...] = ()
            if kind != "media":
                sql += " AND type = ?"
                params = (_MEDIA_TYPE[kind],)
            return [media_json(r) for r in self._query(sql + " ORDER BY id", params)]
        table = _LEGACY[kind][0]
        rows = self._query(f"SELECT * FROM {table} WHERE deleted_at IS NULL ORDER BY id")
        return [row_json(r) for r in rows]

    def file_path(self, folder: str, name: str) -> Path | None:
        """The file for a download URL, or None (no traversal: names are flat, like http.Dir)."""
        if not name or "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
            return None
        path = self.root / "uploads" / _UPLOAD_DIR[folder] / name
        return path if path.is_file() else None

    def cdn_size(self) -> int:
        up = self.root / "uploads"
        return sum(p.stat().st_size for p in up.rglob("*") if p.is_file()) if up.is_dir() else 0

    # -- uploads --------------------------------------------------------------------------------
    def upload(self, kind: str, fields: dict[str, tuple[str | None, bytes]]) -> str:
        """POST /api/cdn/upload/<kind>: returns the file URL, or raises UploadError(status, message)."""
        if kind == "media" and not self.serves_media():
            raise UploadError(404, "404 page not found")
        field = "file" if kind == "media" else _LEGACY[kind][2]
        if field not in fields:
            raise UploadError(400, f"Failed to read file: http: no such file ({field})")
        filename, data = fields[field]
        name = (fields["filename"][1].decode() if "filename" in fields else "") or (filename or "")
        name = Path(name).name
        if not name:
            raise UploadError(400, "filename is required")
        if self.binary == "pre-migration":
            table, folder, _ = _LEGACY[kind]
            checksum = hashlib.md5(data[:512].ljust(512, b"\0")).digest()
            media_type = None
        else:  # every migration-era and tip upload lands in media, the legacy routes too
            table = "media"
            folder = "media" if kind == "media" else _LEGACY[kind][1]
            checksum = hashlib.md5(data).digest()
            media_type = "document" if kind == "doc" else "image" if kind == "image" else _guess_type(name)
        now = gorm_now(local=True)
        with self._write_lock, closing(sqlite3.connect(self.db_path, timeout=5)) as con:
            try:
                with con:
                    dup = con.execute(
                        f"SELECT 1 FROM {table} WHERE checksum = ? AND deleted_at IS NULL", (checksum,)
                    ).fetchone()
                    if dup:
                        raise UploadError(409, "File already exists")
                    if media_type is None:
                        con.execute(
                            f"INSERT INTO {table} (created_at, updated_at, file_name, checksum) VALUES (?,?,?,?)",
                            (now, now, name, checksum),
                        )
                    else:
                        con.execute(
                            "INSERT INTO media (created_at, updated_at, file_name, checksum, type) VALUES (?,?,?,?,?)",
                            (now, now, name, checksum, media_type),
                        )
            except sqlite3.Error as exc:
                raise UploadError(500, str(exc)) from exc
        target = self.root / "uploads" / folder
        target.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
        return f"/download/{folder}/{name}"


def _guess_type(name: str) -> str:
    mime = mimetypes.guess_type(name)[0] or ""
    major = mime.split("/", 1)[0]
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """form field -> (file name, bytes) from a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        return {}
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            out[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


_ROUTES = {
    "/api/cdn/image/all": "image",
    "/api/cdn/doc/all": "doc",
    "/api/cdn/media/all": "media",
}
_DOWNLOAD = re.compile(r"^/api/cdn/download/(images|docs|media)/(.+)$")
_UPLOAD = re.compile(r"^/api/cdn/upload/(image|doc|media)$")
NOT_FOUND = b"404 page not found\n"
MAX_UPLOAD = 64 << 20


class StandinRequestHandler(BaseHTTPRequestHandler):
    server_version = "gofastcdn-standin"
    protocol_version = "HTTP/1.1"
    app: StandinApp  # set on the subclass made by make_server

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()  # gin's compact JSON
        self._send(status, body, "application/json; charset=utf-8")

    def _not_found(self) -> None:
        self._send(404, NOT_FOUND, "text/plain; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = urlsplit(self.path).path
        try:
            self._route(path)
        except (sqlite3.Error, OSError) as exc:
            self._json(500, {"error": str(exc)})

    def do_HEAD(self) -> None:  # noqa: N802 - gin routes no HEAD: every HEAD is a 404
        self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD:
            return self._json(413, {"error": "file too large"})
        body = self.rfile.read(length) if length else b""
        m = _UPLOAD.match(path)
        if not m or (m.group(1) == "media" and not self.app.serves_media()):
            return self._not_found()
        if not check_token(self.headers.get("Authorization"), self.app.jwt_secret):
            return self._json(401, {"error": "Authorization header required"})
        try:
            fields = parse_multipart(self.headers.get("Content-Type", ""), body)
            url = self.app.upload(m.group(1), fields)
        except UploadError as exc:
            return self._json(exc.status, {"error": str(exc)})
        except OSError as exc:
            return self._json(500, {"error": str(exc)})
        return self._json(200, {"file_url": url})

    def _route(self, path: str) -> None:
        app = self.app
        if path == "/api":
            return self._send(301, b"", "text/html; charset=utf-8", {"Location": "/api/"})
        if path == "/api/":
            return self._json(200, "pong")
        if path == "/api/cdn/size":
            return self._json(200, {"cdn_size_bytes": app.cdn_size()})
        kind = _ROUTES.get(path)
        if kind is not None and (kind != "media" or app.serves_media()):
            return self._json(200, app.listing(kind))
        m = _DOWNLOAD.match(path)
        if m and (m.group(1) != "media" or app.serves_media()):
            file = app.file_path(m.group(1), unquote(m.group(2)))
            if file is None:
                return self._not_found()
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            return self._send(200, file.read_bytes(), ctype)
        return self._not_found()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        sys.stdout.write(f"{self.address_string()} - {format % args}\n")
        sys.stdout.flush()


def check_loopback(host: str) -> str:
    """Resolve ``host``; refuse anything that is not a loopback address (sandbox only)."""
    try:
        addr = socket.getaddrinfo(host, None)[0][4][0]
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from exc
    if not ipaddress.ip_address(addr).is_loopback:
        raise ValueError(f"refusing to bind {host!r} ({addr}): the stand-in serves loopback only")
    return str(addr)


def make_server(
    root: Path, port: int, host: str = "127.0.0.1", binary: Binary = "pre-migration"
) -> ThreadingHTTPServer:
    """Bind and start the app (``app.open()``: the tip's connect, the held DB); ``server_close`` closes it."""
    addr = check_loopback(host)
    app = StandinApp(root, binary)
    handler = type("BoundHandler", (StandinRequestHandler,), {"app": app})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

        def server_close(self) -> None:
            super().server_close()
            app.close()

    server = Server((addr, port), handler)
    app.open()
    return server


# While this file exists in the deployment folder the stand-in ignores SIGTERM, like an app stuck in
# a long request: the sandbox page's "app refuses to stop" fault. Only SIGKILL stops it then.
REFUSES_STOP_FLAG = ".standin-refuses-sigterm"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.gofastcdn_standin", description="go-fast-cdn stand-in")
    ap.add_argument("--root", required=True, type=Path, help="deployment folder (holds db_data/main.db)")
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed on start)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback only")
    ap.add_argument("--binary", choices=BINARIES, default="pre-migration", help="which go-fast-cdn build to imitate")
    ns = ap.parse_args(argv)
    try:
        server = make_server(ns.root.resolve(), ns.port, ns.host, ns.binary)
    except (ValueError, OSError, sqlite3.Error) as exc:
        print(f"gofastcdn-standin: {exc}", file=sys.stderr, flush=True)
        return 2

    def on_term(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGTERM and (ns.root / REFUSES_STOP_FLAG).exists():
            print("gofastcdn-standin: busy, ignoring SIGTERM (sandbox fault: app refuses to stop)", flush=True)
            return
        # shutdown() waits for serve_forever, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{host}]" if ":" in host else host
    print(
        f"gofastcdn-standin ({ns.binary}) listening on http://{shown}:{port} root={ns.root.resolve()}",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    print("gofastcdn-standin stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
