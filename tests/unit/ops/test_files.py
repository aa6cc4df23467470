from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ops.deployment import Deployment
from ops.files import FOLDERS, MissingFile, missing_legacy_files, restore_files, safe_name
from ops.rollback import rollback
from ops.schema import open_ro
from ops.verify import verify
from sandbox import gofastcdn_fixture as fx


def test_copies_back_from_media_never_overwrites(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, uploads_after=())
    dep = info.deployment
    fx.rename_after_migration(info.root, "cat.png", "kitty.png")
    fx.remove_file(info.root, "docs", "notes.txt")  # file_migration --cleanup style
    fx.remove_file(info.root, "images", "dog.jpg")
    fx.remove_file(info.root, "media", "dog.jpg")  # no copy anywhere
    (dep.media_dir / "logo.svg").write_bytes(b"different")  # must not overwrite the legacy file
    logo_before = (dep.images_dir / "logo.svg").read_bytes()
    rollback(info.host())
    res = restore_files(info.host(running=True))
    assert res.outcome == "failed"
    assert sorted(res.copied) == ["uploads/docs/notes.txt", "uploads/images/cat.png"]
    assert [m.file_name for m in res.still_missing] == ["dog.jpg"]
    assert (dep.images_dir / "cat.png").read_bytes() == (dep.media_dir / "cat.png").read_bytes()
    assert (dep.images_dir / "logo.svg").read_bytes() == logo_before
    assert (dep.images_dir / "kitty.png").exists()  # nothing removed
    assert verify(info.host()).failed_checks == ["legacy_files_present"]


def test_noop_when_nothing_missing(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path)
    res = restore_files(info.host())
    assert res.outcome == "noop" and res.copied == [] and res.still_missing == []


def test_all_copied_is_ok(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path)
    fx.remove_file(info.root, "images", "cat.png")
    res = restore_files(info.host())
    assert res.outcome == "ok" and res.copied == ["uploads/images/cat.png"]


def test_unsafe_db_name_is_never_a_path(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path)
    fx.add_image(info.root, "../../escape.png", write_file=False)
    (tmp_path / "uploads" / "media").mkdir(parents=True, exist_ok=True)
    res = restore_files(info.host())
    assert [m.file_name for m in res.still_missing] == ["../../escape.png"]
    assert not (tmp_path.parent / "escape.png").exists()


# --- missing_legacy_files: one scandir per folder, same answers as a per-row Path.is_file ---------
def _reference_safe_name(name: object) -> str | None:
    """safe_name as it was, on pathlib (the string version must agree with it)."""
    if not isinstance(name, str) or not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        return None
    return name


def _reference_missing(conn: sqlite3.Connection, dep: Deployment) -> list[MissingFile]:
    """missing_legacy_files as it was: one Path.is_file per live row."""
    out: list[MissingFile] = []
    for table, folder in FOLDERS.items():
        for rid, name in conn.execute(
            f"SELECT id, file_name FROM {table} WHERE deleted_at IS NULL ORDER BY id"
        ).fetchall():
            ok = _reference_safe_name(name)
            if ok is not None and (dep.uploads_dir / folder / ok).is_file():
                continue
            out.append(
                MissingFile(
                    table=table,
                    id=int(rid),
                    file_name=str(name),
                    expected_path=f"uploads/{folder}/{name}",
                    copy_in_media=ok is not None and (dep.media_dir / ok).is_file(),
                )
            )
    return out


ODD_NAMES: list[object] = [
    "",
    ".",
    "..",
    "...",
    "a/b",
    "a/",
    "/abs",
    "./x",
    "x/.",
    "../../escape.png",
    "a\\b",
    "nul\x00byte.png",
    " ",
    "C:x.png",
    "é.png",
    "Cat.PNG",
    "-dash",
    None,
    b"bytes.png",
    42,
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_safe_name_matches_pathlib(name: object) -> None:
    assert safe_name(name) == _reference_safe_name(name)


def _raw_image(root: Path, name: object) -> None:
    with fx.connect(root) as conn:
        conn.execute(
            "INSERT INTO images(created_at, updated_at, deleted_at, file_name, checksum) "
            "VALUES ('', '', NULL, ?, x'00')",
            (name,),
        )


def test_scandir_check_matches_per_row_is_file(tmp_path: Path) -> None:
    info = fx.build_pre_migration_deployment(tmp_path / "gfc")
    dep = info.deployment
    dep.media_dir.mkdir(parents=True)
    for name in ("in-dir", "dangling", "to-file", "to-dir", "to-media", "only-media.png", "Case.png"):
        fx.add_image(info.root, name, write_file=False)
    (dep.images_dir / "in-dir").mkdir()  # a directory named like the file: missing
    (dep.images_dir / "dangling").symlink_to(tmp_path / "nowhere")  # missing
    (tmp_path / "target").write_bytes(b"x")
    (dep.images_dir / "to-file").symlink_to(tmp_path / "target")  # a symlink to a file counts
    (dep.images_dir / "to-dir").symlink_to(dep.docs_dir)  # missing
    (dep.media_dir / "to-media").symlink_to(tmp_path / "target")  # copy_in_media follows it too
    (dep.media_dir / "only-media.png").write_bytes(b"m")
    (dep.images_dir / "case.png").write_bytes(b"other case")  # case-sensitive here: missing
    for odd in ODD_NAMES:
        _raw_image(info.root, odd)
    for name in ("...", " ", "-dash", "é.png", "C:x.png"):  # odd but bare names: checked like any other
        (dep.images_dir / name).write_bytes(b"x")
    (dep.images_dir / "a").mkdir()
    (dep.images_dir / "a" / "b").write_bytes(b"x")  # unsafe names stay missing even when the path exists
    (tmp_path / "escape.png").write_bytes(b"x")  # uploads/images/../../escape.png
    with open_ro(dep.db_path) as conn:
        got = missing_legacy_files(conn, dep)
        assert got == _reference_missing(conn, dep)
    missing = {m.file_name for m in got}
    assert {"in-dir", "dangling", "to-dir", "to-media", "only-media.png", "Case.png"} <= missing
    assert "to-file" not in missing and "cat.png" not in missing
    assert {m.file_name: m.copy_in_media for m in got}["only-media.png"] is True
    assert {m.file_name: m.copy_in_media for m in got}["to-media"] is True
    assert not {"...", " ", "-dash", "é.png", "C:x.png"} & missing
    assert {str(n) for n in ODD_NAMES} - {"...", " ", "-dash", "é.png", "C:x.png"} <= missing


@pytest.mark.parametrize("how", ["missing", "a file", "dangling symlink"])
def test_scandir_check_folder_not_a_directory(tmp_path: Path, how: str) -> None:
    info = fx.build_pre_migration_deployment(tmp_path / "gfc")
    dep = info.deployment
    shutil.rmtree(dep.docs_dir)
    if how == "a file":
        dep.docs_dir.write_bytes(b"")
    elif how == "dangling symlink":
        dep.docs_dir.symlink_to(tmp_path / "nowhere")
    with open_ro(dep.db_path) as conn:
        got = missing_legacy_files(conn, dep)
        assert got == _reference_missing(conn, dep)
    assert [m.expected_path for m in got] == ["uploads/docs/manual.pdf", "uploads/docs/notes.txt"]


def test_scandir_check_unlistable_folder_falls_back_to_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = fx.build_pre_migration_deployment(tmp_path / "gfc")
    dep = info.deployment
    fx.remove_file(info.root, "images", "dog.jpg")
    real = os.scandir

    def no_listing(path: Any) -> Any:
        if Path(path) == dep.images_dir:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr("ops.files.os.scandir", no_listing)
    with open_ro(dep.db_path) as conn:
        got = missing_legacy_files(conn, dep)
    assert [m.expected_path for m in got] == ["uploads/images/dog.jpg"]


def test_listing_check_across_batches_renames_and_undecodable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings bigger than one batch, a file renamed on disk (the row keeps the old name), a name on
    disk that isn't UTF-8 (no DB name can equal it) and a row whose name is a subfolder."""
    info = fx.build_pre_migration_deployment(tmp_path / "gfc")
    dep = info.deployment
    monkeypatch.setattr("ops.files._LIST_BATCH", 2)
    for i in range(7):
        fx.add_image(info.root, f"bulk-{i}.png")
    os.rename(dep.images_dir / "bulk-3.png", dep.images_dir / "bulk-3-renamed.png")
    fx.add_image(info.root, "sub", write_file=False)
    (dep.images_dir / "sub").mkdir()
    (dep.images_dir / "sub" / "sub").write_bytes(b"x")
    os.close(os.open(os.fsencode(dep.images_dir) + b"/\xff\xfe.png", os.O_CREAT | os.O_WRONLY, 0o644))
    with open_ro(dep.db_path) as conn:
        got = missing_legacy_files(conn, dep)
        assert got == _reference_missing(conn, dep)
        assert conn.execute("SELECT COUNT(*) FROM temp.sqlite_master").fetchone()[0] == 0  # temp table dropped
    assert [m.expected_path for m in got] == ["uploads/images/bulk-3.png", "uploads/images/sub"]


def test_listing_check_confirms_unlisted_rows_with_a_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the listing lacks (created after it, or a case-insensitive file system) but that
    is_file() finds is not reported: only rows the stat confirms are missing."""
    info = fx.build_pre_migration_deployment(tmp_path / "gfc")
    dep = info.deployment
    fx.remove_file(info.root, "images", "dog.jpg")
    real = os.scandir

    class Hiding:
        def __init__(self, path: Any) -> None:
            self.it = real(path)

        def __enter__(self) -> Any:
            return (e for e in self.it if e.name != "cat.png")

        def __exit__(self, *exc: object) -> None:
            self.it.close()

    monkeypatch.setattr("ops.files.os.scandir", Hiding)
    with open_ro(dep.db_path) as conn:
        got = missing_legacy_files(conn, dep)
    assert [m.expected_path for m in got] == ["uploads/images/dog.jpg"]
