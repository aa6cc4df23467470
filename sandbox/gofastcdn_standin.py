"""A stand-in for the go-fast-cdn server: the read-only public API the rollback bot checks.

Serves a deployment folder (``db_data/main.db`` + ``uploads/``) the way gin/GORM would:
``GET /api/`` -> "pong"; ``/api/cdn/image/all`` and ``/api/cdn/doc/all`` -> live rows;
``/api/cdn/download/{images,docs}/<name>`` -> file bytes. ``--era migration`` behaves like the
migration-era binary instead: the legacy listings read ``media`` and ``/api/cdn/media/all`` exists.

The DB is opened read-only per request because the rollback replaces it atomically while we run.
Run: ``python -m sandbox.gofastcdn_standin --root DEPLOYMENT --port PORT [--host 127.0.0.1]``.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import mimetypes
import re
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

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


class StandinApp:
    """The request logic, separate from HTTP plumbing so it is easy to read and to test."""

    def __init__(self, root: Path, era: str = "pre") -> None:
        self.root = root
        self.era = era
        self.db_path = root / "db_data" / "main.db"

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

    def _has_table(self, name: str) -> bool:
        rows = self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return bool(rows)

    def listing(self, kind: str) -> list[dict[str, Any]]:
        if kind == "media" or self.era == "migration":
            if not self._has_table("media"):
                return []  # the tip re-creates an empty media table on connect
            sql = "SELECT * FROM media WHERE deleted_at IS NULL"
            params: tuple[Any, ...] = ()
            if kind != "media":
                sql += " AND type = ?"
                params = (_MEDIA_TYPE[kind],)
            return [row_json(r) for r in self._query(sql + " ORDER BY id", params)]
        table = {"image": "images", "doc": "docs"}[kind]
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


_ROUTES = {
    "/api/cdn/image/all": "image",
    "/api/cdn/doc/all": "doc",
    "/api/cdn/media/all": "media",
}
_DOWNLOAD = re.compile(r"^/api/cdn/download/(images|docs|media)/(.+)$")


class StandinRequestHandler(BaseHTTPRequestHandler):
    server_version = "gofastcdn-standin"
    protocol_version = "HTTP/1.1"
    app: StandinApp  # set on the subclass made by make_server

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()  # gin's compact JSON
        self._send(status, body, "application/json; charset=utf-8")

    def _not_found(self) -> None:
        self._send(404, b"404 page not found", "text/plain")

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = urlsplit(self.path).path
        try:
            self._route(path)
        except (sqlite3.Error, OSError) as exc:
            self._json(500, {"error": str(exc)})

    do_HEAD = do_GET  # noqa: N815

    def _route(self, path: str) -> None:
        app = self.app
        if path in ("/api", "/api/"):
            return self._json(200, "pong")
        if path == "/api/cdn/size":
            return self._json(200, {"cdn_size_bytes": app.cdn_size()})
        kind = _ROUTES.get(path)
        if kind is not None and (kind != "media" or app.era == "migration"):
            return self._json(200, app.listing(kind))
        m = _DOWNLOAD.match(path)
        if m and (m.group(1) != "media" or app.era == "migration"):
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


def make_server(root: Path, port: int, host: str = "127.0.0.1", era: str = "pre") -> ThreadingHTTPServer:
    addr = check_loopback(host)
    handler = type("BoundHandler", (StandinRequestHandler,), {"app": StandinApp(root, era)})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    return Server((addr, port), handler)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.gofastcdn_standin", description="go-fast-cdn stand-in")
    ap.add_argument("--root", required=True, type=Path, help="deployment folder (holds db_data/main.db)")
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed on start)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback only")
    ap.add_argument("--era", choices=("pre", "migration"), default="pre", help="which binary to imitate")
    ns = ap.parse_args(argv)
    try:
        server = make_server(ns.root.resolve(), ns.port, ns.host, ns.era)
    except (ValueError, OSError) as exc:
        print(f"gofastcdn-standin: {exc}", file=sys.stderr, flush=True)
        return 2

    def on_term(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{host}]" if ":" in host else host
    print(
        f"gofastcdn-standin ({ns.era}) listening on http://{shown}:{port} root={ns.root.resolve()}",
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
