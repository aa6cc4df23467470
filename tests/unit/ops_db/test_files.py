from __future__ import annotations

from pathlib import Path

from ops.files import restore_files
from ops.rollback import rollback
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
