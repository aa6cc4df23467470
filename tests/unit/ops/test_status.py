from __future__ import annotations

from pathlib import Path

import pytest

from ops.status import status
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.conftest import db_digest


def test_migrated_status(migrated: FixtureInfo) -> None:
    digest = db_digest(migrated)
    st = status(migrated.host(running=True))
    assert st.outcome == "ok"
    assert st.app_running is True
    assert st.schema_era == ("a7396e9-media" if migrated.schema == "a7396e9" else "tip-media")
    assert st.marker is not None and st.marker.state == "live" and st.marker.created_at is not None
    c = st.counts
    assert (c.images_live, c.images_raw, c.docs_live, c.docs_raw) == (3, 4, 2, 2)
    assert (c.media_live, c.media_raw) == (6, 6)
    assert c.media_live_by_type == {"image": 4, "document": 2}
    assert c.media_raw_by_type == {"image": 4, "document": 2}
    assert "media" in st.tables and "idx_media_deleted_at" in [i.name for i in st.indexes]
    assert st.journal_files == []
    assert db_digest(migrated) == digest  # read-only


def test_tip_without_composite_index_is_tip(tmp_path: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, schema="tip", tip_index=False)
    st = status(info.host())
    assert st.schema_era == "tip-media" and st.media_schema == "tip"


def test_pre_migration_rolled_back_and_empty_media_eras(tmp_path: Path, no_proc: Path) -> None:
    info = fx.build_migrated_deployment(tmp_path, schema="tip")
    pre = fx.build_pre_migration_deployment(tmp_path / "pre")
    assert status(pre.host()).schema_era == "pre-migration"
    fx.builtin_rollback(info.root)
    st = status(info.host(running=None))
    assert st.schema_era == "rolled-back" and st.app_running is None
    assert st.marker is not None and st.marker.state == "soft-deleted"
    assert st.marker.deleted_at_text is not None
    fx.recreate_empty_media_tip(info.root)
    st = status(info.host())
    assert st.schema_era == "tip-empty-media"
    assert st.counts.media_raw == 0


@pytest.mark.parametrize("kind", ["hot", "empty"])
def test_journal_reported(migrated_a: FixtureInfo, kind: str) -> None:
    fx.leave_journal(migrated_a.root, kind)  # type: ignore[arg-type]
    (migrated_a.deployment.db_dir / "main.db-wal").write_bytes(b"")
    digest = db_digest(migrated_a)
    st = status(migrated_a.host())
    assert st.journal_files == ["main.db-journal", "main.db-wal"]
    assert st.warnings
    assert db_digest(migrated_a) == digest
    assert migrated_a.deployment.journal_path.exists()  # status never recovers/removes a journal


def test_missing_and_garbage_db(tmp_path: Path) -> None:
    host = fx.make_host(tmp_path)
    st = status(host)
    assert st.outcome == "failed" and st.db_exists is False
    (tmp_path / "db_data").mkdir()
    (tmp_path / "db_data" / "main.db").write_bytes(b"garbage" * 100)
    st = status(host)
    assert st.outcome == "failed" and st.error and "cannot read database" in st.error


# --- Docker layout ---------------------------------------------------------------------------------------
def _docker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, root: Path | None, dockerenv: bool, mounts: list[str]
) -> None:
    import ops.status as st_mod

    env = tmp_path / "dockerenv"
    if dockerenv:
        env.write_text("")
    monkeypatch.setattr(st_mod, "DOCKERENV", env)
    monkeypatch.setattr(st_mod, "DOCKER_ROOT", root or tmp_path / "not-the-root")
    info = tmp_path / "mountinfo"
    info.write_text(
        "".join(f"{i} 1 0:{i} / {m.replace(' ', chr(92) + '040')} rw - ext4 /dev/x rw\n" for i, m in enumerate(mounts))
    )
    monkeypatch.setattr(st_mod, "MOUNTINFO", info)


def test_no_docker_warning_outside_docker(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _docker(monkeypatch, tmp_path, root=None, dockerenv=False, mounts=["/"])
    assert not [w for w in status(migrated_a.host()).warnings if "Docker" in w]


@pytest.mark.parametrize("by", ["root", "dockerenv"])
def test_docker_layout_warns_when_backups_are_not_on_a_volume(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, by: str
) -> None:
    dep = migrated_a.deployment
    _docker(
        monkeypatch, tmp_path, root=dep.root if by == "root" else None, dockerenv=by == "dockerenv",
        mounts=["/", str(dep.db_dir), str(dep.uploads_dir)],  # what go-fast-cdn's compose file mounts
    )  # fmt: skip
    st = status(migrated_a.host())
    (w,) = [w for w in st.warnings if "Docker" in w]
    assert "backups/" in w and ".rollback-agent/" in w and "not on a volume" in w
    assert st.outcome == "ok"


def test_docker_layout_quiet_when_mounted(
    migrated_a: FixtureInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dep = migrated_a.deployment
    _docker(monkeypatch, tmp_path, root=dep.root, dockerenv=True, mounts=["/", str(dep.backups_dir)])
    (w,) = [w for w in status(migrated_a.host()).warnings if "Docker" in w]
    assert ".rollback-agent/" in w and "backups/ (" not in w
    _docker(
        monkeypatch, tmp_path, root=dep.root, dockerenv=True, mounts=["/", str(dep.backups_dir), str(dep.state_dir)]
    )
    assert not [w for w in status(migrated_a.host()).warnings if "Docker" in w]
    _docker(monkeypatch, tmp_path, root=dep.root, dockerenv=True, mounts=["/", str(dep.root)])  # the whole folder
    assert not [w for w in status(migrated_a.host()).warnings if "Docker" in w]


def test_mountinfo_escapes(tmp_path: Path) -> None:
    from ops.status import mount_points, on_a_mount

    info = tmp_path / "mountinfo"
    info.write_text("36 1 0:1 / /srv/my\\040backups rw - ext4 /dev/x rw\n")
    mounts = mount_points(info)
    assert mounts == {"/srv/my backups"}
    assert on_a_mount(Path("/srv/my backups/x"), mounts) and not on_a_mount(Path("/srv/other"), mounts)
    assert mount_points(tmp_path / "missing") == set()
