"""The process controller with real processes (the stand-in, and small python scripts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ops.control import process
from ops.control.config import ProcessConfig
from ops.control.process import ProcessController, proc_stat
from ops.host import Host
from tests.conftest import wait_for
from tests.unit.ops.app_helpers import Reaper, wait_for_log

HostFactory = Callable[..., tuple[Host, ProcessController]]


def _pong(url: str) -> object:
    return httpx.get(url + "/api/", timeout=2, trust_env=False).json()


def test_start_state_stop_roundtrip(process_host: HostFactory) -> None:
    host, ctl = process_host()
    assert ctl.state().running is False
    st = ctl.start(timeout_s=5)
    assert st.running is True and st.pid is not None
    pid = st.pid
    pidfile = ctl.cfg.pidfile.read_text().split()
    info = proc_stat(pid)
    assert info is not None
    assert pidfile == [str(pid), f"start={info[1]}"]  # records the start time against pid reuse
    log = ctl.cfg.log_file
    assert log is not None
    wait_for_log(log, "listening on")
    assert _pong(host.api_url) == "pong"

    again = ctl.start(timeout_s=5)  # already running: no second process
    assert again.pid == pid

    st = ctl.stop(timeout_s=5)
    assert st.running is False
    assert "SIGTERM" in st.detail
    assert not ctl.cfg.pidfile.exists()
    assert proc_stat(pid) is None  # gone and reaped, not a zombie
    assert "gofastcdn-standin stopped" in log.read_text()  # exited cleanly on SIGTERM
    assert ctl.state().running is False


def test_a_child_that_exits_during_the_liveness_check_is_reaped(
    process_host: HostFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It exited between the check's reap and its /proc read: "stopped" was reported while it stayed
    a zombie (seen on a loaded machine, where SIGTERM's exit landed in that gap)."""
    _, ctl = process_host()
    st = ctl.start(timeout_s=5)
    assert st.pid is not None
    os.kill(st.pid, signal.SIGKILL)
    wait_for(lambda: (proc_stat(st.pid) or ("", 0))[0] == "Z", what="a zombie")
    real, skipped = process._reap, []

    def late_reap(pid: int) -> None:  # the first reap came just before the exit
        if not skipped:
            skipped.append(pid)
            return
        real(pid)

    monkeypatch.setattr(process, "_reap", late_reap)
    assert ctl.state().running is False
    assert skipped == [st.pid] and proc_stat(st.pid) is None  # gone and reaped, not a zombie


def test_stale_pidfile_of_dead_process(process_host: HostFactory) -> None:
    host, ctl = process_host()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ctl.cfg.pidfile.parent.mkdir(parents=True, exist_ok=True)
    ctl.cfg.pidfile.write_text(f"{dead.pid}\n")
    st = ctl.state()
    assert st.running is False
    assert f"stale pidfile: pid {dead.pid} is gone" in st.detail
    stopped = ctl.stop(timeout_s=1)  # nothing to stop; the stale file is cleaned up
    assert stopped.running is False
    assert not ctl.cfg.pidfile.exists()


def test_pidfile_pointing_at_reused_pid(process_host: HostFactory) -> None:
    _, ctl = process_host()
    ctl.cfg.pidfile.parent.mkdir(parents=True, exist_ok=True)
    ctl.cfg.pidfile.write_text(f"{os.getpid()}\nstart=1\n")  # alive, but not the process we started
    st = ctl.state()
    assert st.running is False
    assert "reused" in st.detail
    # Without a recorded start time, the command line decides (pytest is not the stand-in).
    ctl.cfg.pidfile.write_text(f"{os.getpid()}\n")
    ctl_other = ProcessController(ProcessConfig(command=["/opt/gofastcdn/main"], pidfile=ctl.cfg.pidfile))
    st = ctl_other.state()
    assert st.running is False
    assert "reused" in st.detail


def test_start_replaces_stale_pidfile(process_host: HostFactory) -> None:
    host, ctl = process_host()
    ctl.cfg.pidfile.parent.mkdir(parents=True, exist_ok=True)
    ctl.cfg.pidfile.write_text(f"{os.getpid()}\nstart=1\n")
    st = ctl.start(timeout_s=5)
    assert st.running is True and st.pid != os.getpid()
    assert ctl.cfg.pidfile.read_text().split()[0] == str(st.pid)
    assert ctl.stop(timeout_s=5).running is False
    assert os.getpid() > 0  # we did not signal ourselves


def test_garbage_pidfile_is_unknown_and_blocks_actions(process_host: HostFactory) -> None:
    _, ctl = process_host()
    ctl.cfg.pidfile.parent.mkdir(parents=True, exist_ok=True)
    ctl.cfg.pidfile.write_text("not-a-pid")
    assert ctl.state().running is None
    st = ctl.start(timeout_s=1)
    assert st.running is None and "not starting" in st.detail
    st = ctl.stop(timeout_s=1)
    assert st.running is None and "not stopping" in st.detail
    assert ctl.cfg.pidfile.read_text() == "not-a-pid"  # left for a human to look at


def test_sigterm_ignored_then_sigkill(tmp_path: Path, reaper: Reaper) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "stubborn.log"
    ctl = ProcessController(
        ProcessConfig(command=[sys.executable, "-c", script], pidfile=tmp_path / "s.pid", log_file=log)
    )
    st = ctl.start(timeout_s=5)
    assert st.running is True
    wait_for_log(log, "ready")
    st = ctl.stop(timeout_s=0.3)
    assert st.running is False
    assert "killed with SIGKILL" in st.detail
    assert not (tmp_path / "s.pid").exists()


def test_crash_on_start_is_reported(tmp_path: Path, reaper: Reaper) -> None:
    log = tmp_path / "crash.log"
    cfg = ProcessConfig(
        command=[sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        pidfile=tmp_path / "c.pid",
        log_file=log,
    )
    st = ProcessController(cfg).start(timeout_s=5)
    assert st.running is False
    assert "exited right after start with code 3" in st.detail
    assert not cfg.pidfile.exists()
    assert "boom" in log.read_text()


def test_missing_executable_is_reported(tmp_path: Path) -> None:
    cfg = ProcessConfig(command=[str(tmp_path / "nope")], pidfile=tmp_path / "n.pid")
    st = ProcessController(cfg).start(timeout_s=1)
    assert st.running is False
    assert "cannot start" in st.detail


def test_env_and_cwd_are_applied(tmp_path: Path, reaper: Reaper) -> None:
    log = tmp_path / "env.log"
    script = "import os, time; print(os.environ['CDN_X'], os.getcwd(), flush=True); time.sleep(60)"
    cfg = ProcessConfig(
        command=[sys.executable, "-c", script],
        pidfile=tmp_path / "e.pid",
        log_file=log,
        cwd=tmp_path,
        env={"CDN_X": "hello"},
    )
    ctl = ProcessController(cfg)
    assert ctl.start(timeout_s=5).running is True
    assert wait_for_log(log, "hello").strip() == f"hello {tmp_path}"
    assert ctl.logs(5) == [f"hello {tmp_path}"]
    assert ctl.stop(timeout_s=5).running is False
