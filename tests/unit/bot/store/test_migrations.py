"""The store upgrades itself: a file written by an older release opens, upgrades in place, keeps everything."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot.incidents import IncidentAlreadyOpen, IncidentService
from bot.runbook import Runbook
from bot.store import LATEST, Store, StoreVersionError
from bot.store.migrations import MIGRATIONS, Migration, migrate, schema_version

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
RELEASE_E35C39F = FIXTURES / "store_e35c39f.db"  # made by tests/fixtures/make_store_e35c39f.py


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    shutil.copy(RELEASE_E35C39F, path)
    return path


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables}


def test_the_fixture_is_an_unversioned_store() -> None:
    with sqlite3.connect(RELEASE_E35C39F) as conn:
        assert schema_version(conn) == 0
        assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 2


def test_a_store_from_release_e35c39f_upgrades_in_place_and_keeps_every_row(tmp_path: Path, runbook: Runbook) -> None:
    path = _copy(tmp_path)
    before = _rows(path)
    store = Store(path)
    try:
        assert store.schema_version == LATEST
        svc = IncidentService(store, runbook)
        resolved, running = svc.get("RB-1"), svc.get("RB-2")
        assert (running.state, running.environment, running.severity) == ("open", "staging", "major")
        assert (resolved.state, resolved.chosen_option, resolved.chosen_backup) == (
            "resolved",
            2,
            "main.db.2026-11-20_10-00-00.bak",
        )
        assert resolved.thread_ts == "1764039845.000100" and len(svc.section_messages("RB-1")) == len(runbook.sections)
        assert svc.steps("RB-1")["immediate.alert-team"].state == "done"
        assert svc.steps("RB-1")["opt1.run-rollback"].state == "failed"
        assert [e.kind for e in svc.events("RB-1")][-1] == "incident.resolved"
        assert svc.job("RB-1.r1").result == {
            "operation": "rollback",
            "outcome": "failed",
            "summary": "verify failed",
            "warnings": [],
        }
        assert [j.request_id for j in svc.running_jobs()] == ["RB-2.s1"]  # re-attached after the upgrade
        assert store.rows("pages")[0]["user_id"] == "U0ONCALL"
        assert store.rows("pages")[0]["page_key"] == "RB-2|dba|U0ONCALL|legacy-1"  # migration 2 keyed it
        with pytest.raises(IncidentAlreadyOpen):
            svc.open("staging", "critical", "", "C1", "U1")
        assert svc.open("production", "critical", "", "C1", "U1").id == "RB-3"  # the counter carried over
        assert not resolved.drill and not running.drill  # incidents from before drills were all real
        assert svc.open("staging", "critical", "", "C1", "U1", drill=True).id == "DRILL-1"  # beside RB-2
    finally:
        store.close()
    after = _rows(path)
    for table, rows in before.items():
        if table != "counters" and rows:  # RB-3 moved the incident counter on
            width = len(rows[0])  # later migrations add columns at the end; the old values stay as they were
            assert set(rows) <= {r[:width] for r in after[table]}, table
    assert after["counters"] == [("drill", 1), ("incident", 3)]
    with sqlite3.connect(path) as conn:
        assert schema_version(conn) == LATEST
    assert Path(f"{path}.v0.bak").exists(), "a copy is kept before the first upgrade"
    assert _rows(Path(f"{path}.v0.bak")) == before


def test_reopening_an_upgraded_store_changes_nothing(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    Store(path).close()
    first = _rows(path)
    Path(f"{path}.v0.bak").unlink()
    Store(path).close()
    assert _rows(path) == first
    assert not Path(f"{path}.v0.bak").exists(), "no copy when there is nothing to upgrade"


def test_a_new_store_starts_at_the_newest_version_without_a_copy(tmp_path: Path) -> None:
    store = Store(tmp_path / "new.db")
    store.close()
    assert store.schema_version == LATEST == MIGRATIONS[-1].version
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".bak")]


def _add_notes_column(db: sqlite_utils.Database) -> None:
    db["incidents"].add_column("notes", str)  # type: ignore[union-attr]
    db.execute("UPDATE incidents SET notes = 'carried over'")


def test_a_later_migration_runs_once_and_keeps_the_rows(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    later = (*MIGRATIONS, Migration(LATEST + 1, "incident notes", _add_notes_column))
    db = sqlite_utils.Database(sqlite3.connect(path))
    assert migrate(db, str(path), later) == LATEST + 1
    assert migrate(db, str(path), later) == LATEST + 1  # nothing left to do
    assert db.execute("SELECT id, notes FROM incidents ORDER BY seq").fetchall() == [
        ("RB-1", "carried over"),
        ("RB-2", "carried over"),
    ]
    db.close()


def _broken(db: sqlite_utils.Database) -> None:
    db["incidents"].add_column("half_done", str)  # type: ignore[union-attr]
    raise RuntimeError("boom")


def test_a_failing_migration_leaves_the_file_at_the_last_complete_version(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    Store(path).close()
    before = _rows(path)
    db = sqlite_utils.Database(sqlite3.connect(path))
    with pytest.raises(RuntimeError, match="boom"):
        migrate(db, str(path), (*MIGRATIONS, Migration(LATEST + 1, "broken", _broken)))
    assert schema_version(db.conn) == LATEST
    assert "half_done" not in db["incidents"].columns_dict
    db.close()
    assert _rows(path) == before


def test_a_store_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreVersionError, match=f"schema version {LATEST + 5} is newer than this release"):
        Store(path)
    assert path.read_bytes() == before


def test_migrations_must_be_numbered_in_order(tmp_path: Path) -> None:
    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "x.db"))
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        migrate(db, "x", (*MIGRATIONS, Migration(LATEST + 2, "gap", _add_notes_column)))
    db.close()
