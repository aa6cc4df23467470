from __future__ import annotations

from pathlib import Path

import pytest

from ops.status import status
from sandbox import gofastcdn_fixture as fx
from sandbox.gofastcdn_fixture import FixtureInfo

from .conftest import db_digest


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


def test_pre_migration_rolled_back_and_empty_media_eras(tmp_path: Path) -> None:
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
