"""Proving go-fast-cdn is stopped without a controller: open files, the API probe, an assertion."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.app_ops import start_app, stop_app
from ops.control.config import ProcessConfig
from ops.control.probe import ProbeController
from ops.control.process import ProcessController
from ops.errors import OpRefused
from ops.host import Host
from ops.openfiles import scan_db_holders
from ops.rollback import rollback
from ops.status import status
from ops.stopped import prove_stopped
from sandbox import gofastcdn_fixture as fx
from sandbox.db_holder import hold_open
from sandbox.gofastcdn_fixture import FixtureInfo
from tests.unit.ops.app_helpers import REPO, Reaper, free_port, wait_for_log


def _closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def dep(tmp_path: Path) -> FixtureInfo:
    return fx.build_migrated_deployment(tmp_path / "gfc")


def _no_controller(info: FixtureInfo, url: str | None = None) -> Host:
    url = url or _closed_url()
    return Host(deployment=info.deployment, controller=ProbeController(url), api_url=url)


def _digest(info: FixtureInfo) -> bytes:
    return info.deployment.db_path.read_bytes()


def test_no_controller_nobody_holds_the_db_rollback_proceeds(dep: FixtureInfo) -> None:
    host = _no_controller(dep)
    res = rollback(host)
    assert res.outcome == "ok", res.summary
    proof = res.stopped_proof
    assert proof is not None and proof.method == "open-files" and proof.asserted_by is None
    assert "no process holds main.db or its journal/WAL" in proof.detail and proof.processes_checked > 0
    assert "cannot connect" in proof.api_detail
    st = status(host)  # and status says stopped, not "unknown", with how it knows
    assert st.app_running is False and "no process holds main.db" in st.app_detail


def test_a_shell_holding_main_db_blocks_the_rollback_naming_it(dep: FixtureInfo) -> None:
    before = _digest(dep)
    with hold_open(dep.deployment.db_path) as holder:
        scan = scan_db_holders(dep.deployment)
        assert [h.pid for h in scan.holders] == [holder.pid]
        assert "sandbox.db_holder" in scan.holders[0].cmdline and scan.holders[0].files == ["main.db"]
        # whatever the controller says: a "stopped" one, or none at all
        for host in (_no_controller(dep), dep.host(running=False)):
            with pytest.raises(OpRefused) as ei:
                rollback(host)
            assert ei.value.code == "db_in_use"
            assert f"pid {holder.pid}" in ei.value.message and "sandbox.db_holder" in ei.value.message
        with pytest.raises(OpRefused) as ei:
            rollback(_no_controller(dep), app_stopped_by="U123")  # an assertion never beats evidence
        assert ei.value.code == "db_in_use"
        st = status(_no_controller(dep))
        assert st.app_running is True and [h.pid for h in st.db_holders] == [holder.pid]
    assert _digest(dep) == before
    assert rollback(_no_controller(dep)).outcome == "ok"  # the shell closed: now it goes


def test_a_replaced_file_still_open_counts(dep: FixtureInfo, tmp_path: Path) -> None:
    with hold_open(dep.deployment.db_path) as holder:
        fresh = tmp_path / "fresh.db"
        fresh.write_bytes(dep.deployment.db_path.read_bytes())
        os.replace(fresh, dep.deployment.db_path)  # the holder keeps the old inode: "main.db (deleted)"
        scan = scan_db_holders(dep.deployment)
        assert [h.pid for h in scan.holders] == [holder.pid]


def test_process_controller_without_pidfile_but_answering_api_is_running(
    dep: FixtureInfo, tmp_path: Path, reaper: Reaper
) -> None:
    """The real server was started by hand: the process controller has no pidfile and says stopped."""
    port = free_port()
    log = tmp_path / "app.log"
    cmd = [sys.executable, "-m", "sandbox.gofastcdn_standin", "--root", str(dep.root), "--port", str(port)]
    with log.open("wb") as out:
        reaper.add(subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    wait_for_log(log, "listening on", timeout_s=20)
    ctl = ProcessController(ProcessConfig(command=["x"], pidfile=tmp_path / "none.pid"))
    assert ctl.state().running is False
    host = Host(deployment=dep.deployment, controller=ctl, api_url=f"http://127.0.0.1:{port}")
    before = _digest(dep)
    with pytest.raises(OpRefused) as ei:
        rollback(host)
    assert ei.value.code in ("app_running", "db_in_use")
    assert 'answered "pong"' in ei.value.message
    assert _digest(dep) == before


@pytest.mark.usefixtures("no_proc")
def test_without_proc_only_an_assertion_lets_it_run(dep: FixtureInfo) -> None:
    host = _no_controller(dep)
    before = _digest(dep)
    with pytest.raises(OpRefused) as ei:
        rollback(host)
    assert ei.value.code == "app_state_unknown" and "--app-stopped" in ei.value.message
    assert _digest(dep) == before
    res = rollback(host, app_stopped_by="cli:ops@box")
    assert res.outcome == "ok"
    assert res.stopped_proof is not None and res.stopped_proof.method == "asserted"
    assert (
        res.stopped_proof.asserted_by == "cli:ops@box" and "asserted stopped by cli:ops@box" in res.stopped_proof.detail
    )


def test_controller_stopped_with_an_assertion_records_both(dep: FixtureInfo) -> None:
    proof = prove_stopped(dep.host(running=False), "roll back", asserted_by="U42")
    assert proof.method == "controller" and proof.asserted_by == "U42" and "also asserted by U42" in proof.detail


# -- the scan on a synthetic /proc ------------------------------------------------------------------


def _fake_proc(root: Path, pid: int, cmdline: list[str], fds: dict[str, Path] | None) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline) + b"\0")
    if fds is None:
        (d / "fd").write_text("")  # listing fails like EACCES on another user's process
        return
    (d / "fd").mkdir()
    for fd, target in fds.items():
        (d / "fd" / fd).symlink_to(target)


def test_scan_by_path_and_unreadable_processes(dep: FixtureInfo, tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _fake_proc(proc, 1, ["/sbin/init"], {"0": Path("/dev/null")})
    _fake_proc(proc, 300, ["/usr/sbin/cron", "-f"], None)  # another user's daemon: only counted
    scan = scan_db_holders(dep.deployment, root=proc)
    assert scan.conclusive and scan.holders == [] and scan.uninspected == 1
    _fake_proc(proc, 200, ["sqlite3", "main.db"], {"3": dep.deployment.journal_path})
    scan = scan_db_holders(dep.deployment, root=proc)
    assert [(h.pid, h.files, h.cmdline) for h in scan.holders] == [(200, ["main.db-journal"], "sqlite3 main.db")]
    _fake_proc(proc, 400, ["sudo", "sqlite3", str(dep.deployment.db_path)], None)
    scan = scan_db_holders(dep.deployment, root=proc)
    assert not scan.conclusive and [s.pid for s in scan.suspicious] == [400]


def test_scan_without_pid_1_is_not_conclusive(dep: FixtureInfo, tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _fake_proc(proc, 77, ["bash"], {})
    scan = scan_db_holders(dep.deployment, root=proc)
    assert not scan.available and "hidepid" in scan.detail


def test_the_running_server_holds_the_db_and_stop_by_hand_is_seen(process_host: Callable[..., Any]) -> None:
    """Like GORM's pool the server keeps main.db open; once it is stopped by hand, a host without a
    controller sees it stopped (no more 'cannot prove ... stop it and retry' forever)."""
    host, ctl = process_host()
    assert start_app(host, timeout_s=10).outcome == "ok"
    pid = ctl.state().pid
    scan = scan_db_holders(host.deployment)
    assert [h.pid for h in scan.holders] == [pid] and "sandbox.gofastcdn_standin" in scan.holders[0].cmdline
    bare = Host(deployment=host.deployment, controller=ProbeController(host.api_url), api_url=host.api_url)
    refused = stop_app(bare)
    assert refused.outcome == "failed" and "no controller configured" in refused.summary
    assert ctl.stop(10).running is False  # the operator stops it by hand
    res = stop_app(bare)
    assert res.outcome == "noop" and res.before.running is False
    assert "no process holds main.db" in res.summary
