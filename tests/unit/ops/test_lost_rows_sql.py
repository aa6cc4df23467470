"""The lost-rows anti-join (one SQL statement) against a straightforward Python reference."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ops.rollback import _after_marker, _legacy_keys, changed_rows_sql, lost_rows_of, scan_media
from ops.schema import inspect, open_ro
from sandbox.gofastcdn_fixture import (
    FixtureInfo,
    add_image,
    build_migrated_deployment,
    connect,
    delete_after_migration,
    rename_after_migration,
    soft_delete_row,
    upload_after_migration,
)

TYPE_TABLE = {"image": "images", "document": "docs"}


def reference_lost_rows(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """(id, list, reason) by the obvious method: every live legacy key in a Python set, every media
    row checked against it (what the agent did before the anti-join, at 1.5 GiB for 2M rows)."""
    marker = inspect(conn).marker
    legacy: set[tuple[object, str, object]] = set()
    by_sum: dict[tuple[str, object], object] = {}
    for table, mtype in (("images", "image"), ("docs", "document")):
        for name, checksum in conn.execute(f"SELECT file_name, checksum FROM {table} WHERE deleted_at IS NULL"):
            legacy.add((name, mtype, checksum))
            by_sum.setdefault((mtype, checksum), name)
    out: list[tuple[int, str, str]] = []
    for rid, name, mtype, checksum, created, deleted in conn.execute(
        "SELECT id, file_name, type, checksum, created_at, deleted_at FROM media ORDER BY id"
    ):
        matched = (name, mtype, checksum) in legacy
        if (deleted is None) == matched:
            continue
        if deleted is not None:
            reason = f"deleted after the migration; the {TYPE_TABLE.get(mtype, mtype)} row is live again"
        elif mtype not in TYPE_TABLE:
            reason = f"type {mtype}: only the media table can hold it"
        elif (mtype, checksum) in by_sum and by_sum[(mtype, checksum)] != name:
            reason = f"renamed from {by_sum[(mtype, checksum)]} after the migration"
        elif _after_marker(created, marker):
            reason = "uploaded after the migration"
        else:
            reason = f"no live {TYPE_TABLE[mtype]} row with this name and checksum"
        out.append((int(rid), "undone" if deleted is not None else "lost", reason))
    return out


def _busy_after_migration(tmp_path: Path, schema: str) -> FixtureInfo:
    info = build_migrated_deployment(tmp_path / "gfc", schema=schema, uploads_after=("new-1.png", "new-2.png"))
    root = info.root
    rename_after_migration(root, "cat.png", "kitten.png")
    rename_after_migration(root, "manual.pdf", "handbook.pdf", table="docs")
    delete_after_migration(root, "dog.jpg")
    upload_after_migration(root, "clip.mp4", media_type="video")
    upload_after_migration(root, "gone.png")
    delete_after_migration(root, "gone.png")  # uploaded and deleted after: nothing to lose
    upload_after_migration(root, "twin.png", b"same bytes as logo? no, its own")
    with connect(root) as conn:
        # NULL checksums on both sides match each other, like the reference's tuple equality
        conn.execute(
            "INSERT INTO images(created_at, updated_at, deleted_at, file_name, checksum) "
            "VALUES ('2025-07-01 09:00:00+00:00', '2025-07-01 09:00:00+00:00', NULL, 'nosum.png', NULL)"
        )
        conn.execute(
            "INSERT INTO media(created_at, updated_at, deleted_at, file_name, checksum, type) "
            "VALUES ('2025-07-01 09:00:00+00:00', '2025-07-01 09:00:00+00:00', NULL, 'nosum.png', NULL, 'image')"
        )
        # a NULL checksum that isn't matched by name: renamed from the legacy row with NULL too
        conn.execute(
            "INSERT INTO media(created_at, updated_at, deleted_at, file_name, checksum, type) "
            "VALUES ('2025-07-02 09:00:00+00:00', '2025-07-02 09:00:00+00:00', NULL, 'nosum-2.png', NULL, 'image')"
        )
        # a media row whose checksum no longer matches the live legacy row of the same name
        conn.execute("UPDATE media SET checksum = X'00' WHERE file_name = 'notes.txt'")
    add_image(root, "legacy-only.png")  # a legacy upload with no media row: not lost
    soft_delete_row(root, "images", "logo.svg")  # legacy row deleted: media copy becomes lost
    return info


@pytest.mark.parametrize("schema", ["a7396e9", "tip"])
def test_anti_join_matches_reference(tmp_path: Path, schema: str) -> None:
    info = _busy_after_migration(tmp_path, schema)
    with open_ro(info.deployment.db_path) as conn:
        expected = reference_lost_rows(conn)
        lost, undone = lost_rows_of(scan_media(conn), info.deployment, inspect(conn).marker)
        leftovers = conn.execute("SELECT name FROM temp.sqlite_master").fetchall()
    got = [(r.id, "lost", r.reason) for r in lost] + [(r.id, "undone", r.reason) for r in undone]
    assert sorted(got) == sorted(expected)
    reasons = " | ".join(r for _, _, r in expected)
    renames = ("renamed from nosum.png", "renamed from cat.png", "renamed from manual.pdf")
    for needle in (*renames, "type video", "uploaded after", "live again"):
        assert needle in reasons  # the fixture exercises every kind of loss
    assert len(expected) >= 8
    assert leftovers == []  # the temp key tables are dropped again


@pytest.mark.parametrize("mtype", ["image", "document"])
def test_anti_join_plan_probes_an_index(tmp_path: Path, mtype: str) -> None:
    """The quadratic plan (a correlated scan of images/docs, or of the key table) must not come back."""
    info = _busy_after_migration(tmp_path, "a7396e9")
    with open_ro(info.deployment.db_path) as conn:
        _legacy_keys(conn, mtype)
        sql = changed_rows_sql(mtype, other_types=mtype == "image")
        plan = [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert any(p.startswith("SEARCH k USING COVERING INDEX") and "(file_name=? AND checksum=?)" in p for p in plan)
    assert [p for p in plan if p.startswith("SCAN")] == ["SCAN m"], plan
