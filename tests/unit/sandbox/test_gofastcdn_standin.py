"""The go-fast-cdn stand-in: gin/GORM-shaped JSON, read-only DB per request, loopback only."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.deployment import Deployment
from sandbox.gofastcdn_standin import Binary, check_loopback, go_time, make_server, make_token
from tests.unit.ops.app_helpers import REPO, add_row, build_deployment, checksum, migrate_to_media


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2025-07-30 05:20:24.70958194+00:00", "2025-07-30T05:20:24.70958194Z"),
        ("2025-07-30 05:20:24.709581940+00:00", "2025-07-30T05:20:24.70958194Z"),
        ("2025-07-30 07:20:24.5+02:00", "2025-07-30T07:20:24.5+02:00"),
        ("2025-07-30 05:20:24", "2025-07-30T05:20:24Z"),
        ("2025-07-30 05:20:24.000+00:00", "2025-07-30T05:20:24Z"),
        (None, None),
    ],
)
def test_go_time(text: str | None, want: str | None) -> None:
    assert go_time(text) == want


def serve(root: Path, binary: Binary = "pre-migration") -> Iterator[httpx.Client]:
    server = make_server(root, 0, binary=binary)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    port = server.server_address[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


@pytest.fixture
def client(deployment: Deployment) -> Iterator[httpx.Client]:
    yield from serve(deployment.root)


def test_routes_and_row_shape(client: httpx.Client) -> None:
    assert client.get("/api/").json() == "pong"
    rows = client.get("/api/cdn/image/all").json()
    assert [r["file_name"] for r in rows] == ["cat.png", "dog photo.jpg"]  # soft-deleted old.png left out
    first = rows[0]
    assert set(first) == {"ID", "CreatedAt", "UpdatedAt", "DeletedAt", "file_name", "checksum"}
    assert first["ID"] == 1 and first["DeletedAt"] is None
    assert first["CreatedAt"] == "2025-07-30T05:20:24.70958194Z"
    assert base64.b64decode(first["checksum"]) == checksum(b"\x89PNG cat" * 100)
    assert [r["file_name"] for r in client.get("/api/cdn/doc/all").json()] == ["guide.pdf"]
    resp = client.get("/api/cdn/download/images/dog%20photo.jpg")
    assert resp.status_code == 200 and resp.content == b"\xff\xd8 dog" * 50
    assert resp.headers["content-type"] == "image/jpeg"
    assert client.get("/api/cdn/download/docs/guide.pdf").content == b"%PDF guide"
    assert client.get("/api/cdn/download/images/missing.png").status_code == 404
    assert client.get("/api/cdn/download/images/..%2Fdocs%2Fguide.pdf").status_code == 404
    assert client.get("/api/cdn/media/all").status_code == 404  # pre-migration binary has no media route


def test_db_replaced_while_running_and_no_lock_held(tmp_path: Path, deployment: Deployment) -> None:
    for c in serve(deployment.root):
        assert len(c.get("/api/cdn/image/all").json()) == 2
        # a writer can take an exclusive lock between requests: the held connection is idle
        con = sqlite3.connect(deployment.db_path, timeout=0.1)
        con.execute("BEGIN EXCLUSIVE")
        con.rollback()
        con.close()
        other = build_deployment(tmp_path / "other")
        add_row(other.root, "images", "new.png", b"new")
        os.replace(other.db_path, deployment.db_path)  # the atomic swap a restore does
        assert [r["file_name"] for r in c.get("/api/cdn/image/all").json()] == ["cat.png", "dog photo.jpg", "new.png"]


def test_missing_db_is_500_and_not_created(deployment: Deployment) -> None:
    deployment.db_path.unlink()
    for c in serve(deployment.root):
        resp = c.get("/api/cdn/image/all")
        assert resp.status_code == 500 and "does not exist" in resp.json()["error"]
        assert c.get("/api/").json() == "pong"
    assert not deployment.db_path.exists()


def test_tip_reads_media(deployment: Deployment) -> None:
    migrate_to_media(deployment.root)
    for c in serve(deployment.root, binary="tip"):
        media = c.get("/api/cdn/media/all").json()
        assert [(m["ID"], m["file_name"], m["type"]) for m in media] == [
            (2, "cat.png", "image"),
            (3, "dog photo.jpg", "image"),
            (4, "guide.pdf", "document"),
        ]
        assert [r["ID"] for r in c.get("/api/cdn/image/all").json()] == [2, 3]
        assert [r["file_name"] for r in c.get("/api/cdn/doc/all").json()] == ["guide.pdf"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        check_loopback(host)


def test_cli_refuses_non_loopback_bind(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox.gofastcdn_standin", "--root", str(tmp_path), "--host", "0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert proc.returncode == 2
    assert "loopback only" in proc.stderr


# -- each binary as observed ------------------------------------------------------------------------


def _upload(c: httpx.Client, kind: str, name: str, data: bytes, token: str | None = None) -> httpx.Response:
    field = {"image": "image", "doc": "doc", "media": "file"}[kind]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return c.post(f"/api/cdn/upload/{kind}", files={field: (name, data)}, headers=headers)


@pytest.mark.parametrize("binary", ["pre-migration", "migration-era", "tip"])
def test_gin_behaviours_every_binary(deployment: Deployment, binary: Binary) -> None:
    for c in serve(deployment.root, binary):
        resp = c.get("/api")
        assert resp.status_code == 301 and resp.headers["location"] == "/api/"
        assert c.get("/api", follow_redirects=True).json() == "pong"
        head = c.head("/api/")
        assert head.status_code == 404 and head.content == b""
        missing = c.get("/api/cdn/nope")
        assert missing.status_code == 404 and missing.content == b"404 page not found\n"
        assert missing.headers["content-type"] == "text/plain; charset=utf-8"
        assert _upload(c, "image", "x.png", b"x").status_code == 401  # no token


def test_migration_era_after_a_rollback(deployment: Deployment) -> None:
    """a7396e9 restarted on a rolled-back DB: lists served from images/docs, media/all is 200 null,
    and every upload fails because it writes media."""
    for c in serve(deployment.root, "migration-era"):
        assert [r["ID"] for r in c.get("/api/cdn/image/all").json()] == [1, 3]  # the images table's ids
        media = c.get("/api/cdn/media/all")
        assert media.status_code == 200 and media.text == "null"
        for kind in ("image", "doc", "media"):
            resp = _upload(c, kind, f"new-{kind}.bin", kind.encode() * 40, make_token())
            assert resp.status_code == 500 and resp.json() == {"error": "no such table: media"}
    assert not (deployment.uploads_dir / "images" / "new-image.bin").exists()


def test_migration_era_before_the_rollback(deployment: Deployment) -> None:
    migrate_to_media(deployment.root)
    for c in serve(deployment.root, "migration-era"):
        assert [r["ID"] for r in c.get("/api/cdn/image/all").json()] == [1, 3]  # still images, not media
        rows = c.get("/api/cdn/media/all").json()
        assert [r["file_name"] for r in rows] == ["cat.png", "dog photo.jpg", "guide.pdf"]
        assert all("width" not in r and "height" not in r for r in rows)  # null dims omitted
        assert _upload(c, "image", "late.png", b"late" * 50, make_token()).status_code == 200
    con = sqlite3.connect(deployment.db_path)
    assert con.execute("SELECT type FROM media WHERE file_name='late.png'").fetchall() == [("image",)]
    assert con.execute("SELECT COUNT(*) FROM images WHERE file_name='late.png'").fetchone() == (0,)
    con.close()
    assert (deployment.uploads_dir / "images" / "late.png").is_file()  # legacy folder, media row


def test_tip_recreates_an_empty_media_table_at_start(deployment: Deployment) -> None:
    for c in serve(deployment.root, "tip"):
        assert c.get("/api/cdn/media/all").json() == []
        assert c.get("/api/cdn/image/all").json() == []  # the tip reads media only
    con = sqlite3.connect(deployment.db_path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    con.close()
    assert {"media", "idx_media_file_name_type"} <= names


def test_pre_migration_upload_writes_images_and_refuses_duplicates(deployment: Deployment) -> None:
    token = make_token()
    for c in serve(deployment.root):
        ok = _upload(c, "image", "bird.png", b"bird" * 200, token)
        assert ok.status_code == 200 and ok.json() == {"file_url": "/download/images/bird.png"}
        assert _upload(c, "image", "bird2.png", b"bird" * 200, token).status_code == 409  # same checksum
        assert _upload(c, "image", "x.png", b"x", make_token("wrong-secret")).status_code == 401
        assert _upload(c, "media", "m.png", b"m", token).status_code == 404
    con = sqlite3.connect(deployment.db_path)
    row = con.execute("SELECT checksum FROM images WHERE file_name='bird.png'").fetchone()
    con.close()
    assert row == (checksum(b"bird" * 200),)
