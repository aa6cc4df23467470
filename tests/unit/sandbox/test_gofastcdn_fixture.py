"""The fixture must reproduce go-fast-cdn's observed DB behaviour (reference 2.3, 3.1, 9)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from ops.gorm_time import to_ns
from sandbox import gofastcdn_fixture as fx


def test_forward_migration_matches_reference(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, schema="a7396e9", uploads_after=())
    conn = sqlite3.connect(info.deployment.db_path)
    media = conn.execute("SELECT id, file_name, type, created_at, updated_at, width, height FROM media").fetchall()
    # new ids 1..N: live images in id order, then live docs; the soft-deleted image is not copied
    assert [(m[0], m[1], m[2]) for m in media] == [
        (1, "cat.png", "image"),
        (2, "dog.jpg", "image"),
        (3, "logo.svg", "image"),
        (4, "manual.pdf", "document"),
        (5, "notes.txt", "document"),
    ]
    assert all(m[3] == m[4] and m[5] is None and m[6] is None for m in media)
    marker = conn.execute("SELECT id, name, completed, created_at, deleted_at FROM migration_records").fetchall()
    assert marker[0][:3] == (1, "media_unification_2024", 1) and marker[0][4] is None
    assert to_ns(marker[0][3]) >= to_ns(media[-1][3])
    assert dict(conn.execute("SELECT name, seq FROM sqlite_sequence")) == {
        "users": 1,
        "images": 4,
        "docs": 2,
        "media": 5,
        "migration_records": 1,
    }
    # checksums: 16 raw bytes = MD5 of the 512-byte zero-padded head, copied unchanged
    data = (info.deployment.images_dir / "cat.png").read_bytes()
    assert len(data) > 512
    (cs,) = conn.execute("SELECT checksum FROM media WHERE file_name='cat.png'").fetchone()
    assert cs == hashlib.md5(data[:512]).digest() != hashlib.md5(data).digest()
    assert sorted(p.name for p in info.deployment.media_dir.iterdir()) == [
        "cat.png",
        "dog.jpg",
        "logo.svg",
        "manual.pdf",
        "notes.txt",
    ]


def test_remigration_after_builtin_rollback_fails_byte_identical(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, schema="tip")
    assert fx.builtin_rollback(info.root) == "rolled back"
    before = info.deployment.db_path.read_bytes()
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: migration_records\.name"):
        fx.migrate(info.root, schema="tip", copy_files=False)
    assert info.deployment.db_path.read_bytes() == before


def test_a7396e9_duplicate_name_across_images_and_docs_fails(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    fx.add_doc(info.root, "cat.png")
    before = info.deployment.db_path.read_bytes()
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: media\.file_name"):
        fx.migrate(info.root, schema="a7396e9", copy_files=False)
    assert info.deployment.db_path.read_bytes() == before
    assert fx.migrate(info.root, schema="tip", copy_files=False) == "migrated"  # composite index allows it


def test_fixed_state_controller() -> None:
    c = fx.FixedStateController(None)
    assert c.state().running is None
    assert c.stop(1).running is False
    assert c.start(1).running is True
