"""Each fault the page offers is a real change the agent meets: a damaged file, a held lock, a journal, a
process that ignores SIGTERM. The host panel reports the deployment as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from ops.control import make_controller
from ops.deployment import Deployment
from ops.status import journal_blockers
from sandbox.gofastcdn_fixture import build_migrated_deployment, builtin_rollback
from sandbox.page.host_faults import HostFaultError, HostFaults
from sandbox.page.host_view import host_panel
from sandbox.sandbox_host import SandboxHost
from tests.conftest import wait_for


def serves(host: SandboxHost) -> bool:
    try:
        return httpx.get(host.api_url + "/api/cdn/image/all", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def live_images(root: Path) -> int:
    with sqlite3.connect(Deployment(root=root).db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM images WHERE deleted_at IS NULL").fetchone()[0])


def test_corrupt_db_makes_reads_fail(tmp_path: Path) -> None:
    root = build_migrated_deployment(tmp_path / "d").root
    note = HostFaults(root).apply("corrupt_db")
    assert "images" in note
    with pytest.raises(sqlite3.DatabaseError), sqlite3.connect(Deployment(root=root).db_path) as conn:
        conn.execute("SELECT count(*) FROM images").fetchone()


def test_stray_delete_removes_one_live_image_until_none_is_left(tmp_path: Path) -> None:
    root = build_migrated_deployment(tmp_path / "d").root
    faults, before = HostFaults(root), live_images(root)
    assert "DELETE FROM images WHERE id =" in faults.apply("stray_delete")
    assert live_images(root) == before - 1
    for _ in range(before - 1):
        faults.apply("stray_delete")
    with pytest.raises(HostFaultError, match="no live image"):
        faults.apply("stray_delete")


def test_teammates_shell_holds_the_write_lock_until_it_quits(tmp_path: Path) -> None:
    root = build_migrated_deployment(tmp_path / "d").root
    faults = HostFaults(root)
    try:
        assert "BEGIN IMMEDIATE" in faults.apply("hold_db")
        assert faults.active()["hold_db"]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(faults.dep.db_path, timeout=0.2, isolation_level=None).execute("BEGIN IMMEDIATE")
        faults.apply("hold_db", on=False)
        assert not faults.active()["hold_db"]
        conn = sqlite3.connect(faults.dep.db_path, timeout=5, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        conn.close()
    finally:
        faults.close()


def test_hot_journal_blocks_the_agent_and_replaying_it_is_harmless(tmp_path: Path) -> None:
    root = build_migrated_deployment(tmp_path / "d").root
    faults, before = HostFaults(root), live_images(root)
    faults.apply("hot_journal")
    assert faults.active()["hot_journal"]
    assert journal_blockers(faults.dep) == [faults.dep.journal_path]
    # The next ordinary reader replays the journal (no records) and the data is untouched.
    with sqlite3.connect(faults.dep.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert live_images(root) == before
    faults.apply("hot_journal")
    faults.apply("hot_journal", on=False)
    assert not faults.dep.journal_path.exists()


def test_app_refusing_to_stop_ignores_sigterm_until_killed(tmp_path: Path) -> None:
    host = SandboxHost(tmp_path, secret="s")
    host.start_app()
    faults = HostFaults(host.root)
    controller = make_controller(host.controller_config, host.api_url)
    try:
        wait_for(lambda: serves(host), what="the stand-in serving (its SIGTERM handler is set by then)")
        faults.apply("refuse_stop")
        after = controller.stop(1.0)
        assert after.running is False and "ignored SIGTERM" in after.detail and "SIGKILL" in after.detail
        faults.apply("refuse_stop", on=False)
        host.start_app()
        wait_for(lambda: serves(host), what="the stand-in serving again")
        assert "with SIGTERM" in controller.stop(10).detail
    finally:
        faults.close()
        controller.stop(5)


def test_host_panel_follows_the_deployment_through_its_eras(tmp_path: Path) -> None:
    host = SandboxHost(tmp_path, secret="s")
    faults = HostFaults(host.root)
    panel = host_panel("staging", host, faults)
    assert (panel.app, panel.era, panel.counts) == ("stopped", "migrated", {"images": 3, "docs": 2, "media": 6})
    builtin_rollback(host.root)
    assert host_panel("staging", host, faults).era == "rolled back"
    faults.apply("hot_journal")
    panel = host_panel("staging", host, faults)
    assert panel.side_files == ["main.db-journal"] and any(f.kind == "hot_journal" and f.on for f in panel.faults)
    faults.apply("corrupt_db")
    panel = host_panel("staging", host, faults)
    assert panel.era == "unreadable" and panel.db_error
