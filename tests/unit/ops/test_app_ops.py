"""stop_app / start_app / check_api / tail_logs over real stand-in processes and fake controllers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.app_ops import check_api, start_app, stop_app, tail_logs
from ops.control import SystemdConfig, SystemdController
from ops.control.base import AppState
from ops.control.probe import ProbeController
from ops.control.process import ProcessController
from ops.deployment import Deployment
from ops.errors import OpInputError
from ops.host import Host
from tests.unit.ops.app_helpers import add_row, free_port, migrate_to_media
from tests.unit.ops.control.test_controllers_fake import FakeRunner, FakeSystemd

HostFactory = Callable[..., tuple[Host, ProcessController]]
CHECK_NAMES = [
    "db_read",
    "ping",
    "pre_migration_binary",
    "image_listing",
    "images_download",
    "doc_listing",
    "docs_download",
]


def by_name(result: object) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.passed, c.detail) for c in result.checks}  # type: ignore[attr-defined]


@pytest.fixture
def running(process_host: HostFactory) -> Host:
    host, _ = process_host()
    res = start_app(host, timeout_s=10)
    assert res.outcome == "ok", res.summary
    return host


# -- stop / start -------------------------------------------------------------------------------


def test_start_stop_cycle_with_noops(process_host: HostFactory) -> None:
    host, ctl = process_host()
    res = start_app(host, timeout_s=10)
    assert (res.outcome, res.operation, res.action, res.controller) == ("ok", "start_app", "start", "process")
    assert res.before.running is False and res.after.running is True
    assert res.api_answered is True

    again = start_app(host, timeout_s=10)
    assert again.outcome == "noop"
    assert again.summary.startswith("already running")

    res = stop_app(host, timeout_s=10)
    assert res.outcome == "ok"
    assert res.before.running is True and res.after.running is False
    assert res.after.pid is None

    again = stop_app(host, timeout_s=10)
    assert again.outcome == "noop"
    assert again.summary.startswith("already stopped")
    assert ctl.state().running is False


def test_start_fails_when_api_never_answers(tmp_path: Path, deployment: Deployment) -> None:
    """systemd says active, but nothing serves on the port: that is not a successful start."""
    runner = FakeRunner(FakeSystemd("inactive"))
    host = Host(deployment, SystemdController(SystemdConfig(unit="cdn"), runner), f"http://127.0.0.1:{free_port()}")
    res = start_app(host, timeout_s=0.5)
    assert res.outcome == "failed"
    assert res.after.running is True and res.api_answered is False
    assert "did not answer" in res.summary
    assert ["systemctl", "start", "cdn"] in runner.calls


def test_start_without_api_wait_and_stop_without_effect(deployment: Deployment) -> None:
    host = Host(deployment, SystemdController(SystemdConfig(unit="cdn"), FakeRunner(FakeSystemd("inactive"))))
    res = start_app(host, timeout_s=1, wait_api=False)
    assert res.outcome == "ok" and res.api_answered is None

    stuck = Host(deployment, SystemdController(SystemdConfig(unit="cdn"), FakeRunner(FakeSystemd(effective=False))))
    res = stop_app(stuck, timeout_s=0.3)
    assert res.outcome == "failed"
    assert res.after.running is True
    assert res.summary.startswith("stop failed: stop did not take effect")


def test_none_controller(deployment: Deployment, running: Host) -> None:
    probe = Host(deployment, ProbeController(running.api_url), running.api_url)
    assert probe.controller.state().running is True
    res = stop_app(probe, timeout_s=1)
    assert res.outcome == "failed"
    assert "no controller configured" in res.summary

    down = ProbeController(f"http://127.0.0.1:{free_port()}")
    st = down.state()
    assert st.running is None
    assert st.detail.startswith("unknown: no controller configured")
    res = start_app(Host(deployment, down, down.api_url), timeout_s=1)
    assert res.outcome == "failed"


def test_unknown_state_stop_is_attempted_and_judged_by_after(deployment: Deployment, no_proc: Path) -> None:
    class Flaky:
        kind = "fake"

        def state(self) -> AppState:
            return AppState(running=None, detail="cannot tell")

        def stop(self, timeout_s: float) -> AppState:
            return AppState(running=False, detail="stopped")

        def start(self, timeout_s: float) -> AppState:
            return AppState(running=None, detail="cannot tell")

        def logs(self, lines: int) -> list[str]:
            return ["x"] * 10

    res = stop_app(Host(deployment, Flaky()), timeout_s=1)
    assert res.outcome == "ok" and res.before.running is None
    res = start_app(Host(deployment, Flaky()), timeout_s=1)
    assert res.outcome == "failed"


# -- check_api ----------------------------------------------------------------------------------


def test_check_api_all_pass(running: Host) -> None:
    res = check_api(running)
    assert res.outcome == "ok", res.summary
    assert [c.name for c in res.checks] == CHECK_NAMES
    checks = by_name(res)
    assert checks["db_read"] == (True, "2 live images, 1 live docs")
    assert checks["image_listing"][1] == "2 rows, matching the live images rows in the DB"
    assert "'dog photo.jpg'" in checks["images_download"][1]  # newest live image, name needs URL quoting
    assert res.serves_media is False
    assert res.warnings == []


def test_check_api_missing_file(running: Host) -> None:
    add_row(running.deployment.root, "images", "ghost.png", None)
    res = check_api(running)
    assert res.outcome == "failed"
    checks = by_name(res)
    passed, detail = checks["images_download"]
    assert not passed
    assert "'ghost.png' is a live images row but" in detail and "(API: HTTP 404)" in detail
    assert checks["image_listing"][0] is True
    assert checks["docs_download"][0] is True
    assert "images_download" in res.summary


def test_check_api_wrong_bytes_and_listing_mismatch(
    tmp_path: Path, process_host: HostFactory, deployment: Deployment
) -> None:
    """The app serves another folder than the agent's deployment: bytes and listings disagree."""
    served = tmp_path / "served"
    shutil.copytree(deployment.root, served)
    (served / "uploads" / "images" / "dog photo.jpg").write_bytes(b"something else")
    add_row(served, "docs", "extra.pdf", b"%PDF extra")
    host, _ = process_host(root=served)
    assert start_app(host, timeout_s=10).outcome == "ok"

    checks = by_name(check_api(host))
    passed, detail = checks["images_download"]
    assert not passed
    assert "API sent 14 bytes" in detail
    assert checks["image_listing"][0] is True
    passed, detail = checks["doc_listing"]
    assert not passed
    assert detail == "API lists 2, DB has 1 live docs; only in API: 'extra.pdf'"


def test_check_api_tip_binary(process_host: HostFactory, deployment: Deployment) -> None:
    migrate_to_media(deployment.root)
    host, _ = process_host("--binary", "tip")
    assert start_app(host, timeout_s=10).outcome == "ok"
    res = check_api(host)
    assert res.outcome == "failed"
    assert res.serves_media is True
    assert res.uploads_will_fail is False and "uploads go to the media table" in res.warnings[0]
    passed, detail = by_name(res)["image_listing"]
    assert not passed and "IDs differ" in detail
    assert by_name(res)["pre_migration_binary"][0] is False


def test_check_api_migration_era_binary_after_a_rollback(process_host: HostFactory) -> None:
    """The real a7396e9 server on a rolled-back DB lists and serves everything, but cannot upload."""
    host, _ = process_host("--binary", "migration-era")
    assert start_app(host, timeout_s=10).outcome == "ok"
    res = check_api(host)
    checks = by_name(res)
    assert all(checks[n][0] for n in CHECK_NAMES if n != "pre_migration_binary")  # retrieval works
    passed, detail = checks["pre_migration_binary"]
    assert not passed and 'uploads fail with 500 "no such table: media"' in detail
    assert "until the binary is rolled back to a pre-migration build" in detail
    assert res.outcome == "failed" and res.uploads_will_fail is True
    assert res.warnings[0] == detail and "pre_migration_binary" in res.summary


def test_check_api_pre_migration_binary_passes(running: Host) -> None:
    res = check_api(running)
    assert res.outcome == "ok" and res.serves_media is False and res.uploads_will_fail is False
    assert "pre-migration build" in by_name(res)["pre_migration_binary"][1]


def test_check_api_when_down(deployment: Deployment) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = check_api(Host(deployment, ProbeController(url), url), timeout_s=1)
    assert res.outcome == "failed"
    checks = by_name(res)
    assert checks["db_read"][0] is True
    passed, detail = checks["ping"]
    assert not passed and detail.startswith(f"cannot connect to {url}/api/")
    assert checks["image_listing"] == (False, f"not run: API unreachable at {url}")
    assert [c.name for c in res.checks] == CHECK_NAMES


def test_check_api_unreadable_db(running: Host) -> None:
    running.deployment.db_path.unlink()
    res = check_api(running)
    checks = by_name(res)
    assert checks["db_read"][0] is False and "does not exist" in checks["db_read"][1]
    assert checks["ping"][0] is True
    assert res.outcome == "failed"


# -- tail_logs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 5001, True, "10", 2.5])
def test_tail_logs_rejects_bad_limits(deployment: Deployment, bad: object) -> None:
    host = Host(deployment, ProbeController("http://127.0.0.1:1"))
    with pytest.raises(OpInputError) as err:
        tail_logs(host, lines=bad)  # type: ignore[arg-type]
    assert err.value.code == "bad_lines"


def test_tail_logs_from_process_log(running: Host) -> None:
    check_api(running)  # produces request lines
    res = tail_logs(running, lines=2)
    assert res.outcome == "ok" and res.requested == 2
    assert len(res.lines) == 2
    assert all('"GET /api/cdn/' in line for line in res.lines)
    assert tail_logs(running, lines=5000).lines[0].startswith("gofastcdn-standin (pre-migration) listening on")


def test_tail_logs_systemd_and_none(deployment: Deployment) -> None:
    runner = FakeRunner(FakeSystemd())
    res = tail_logs(Host(deployment, SystemdController(SystemdConfig(unit="cdn"), runner)), lines=50)
    assert res.outcome == "ok" and res.source == "journalctl -u cdn"
    assert res.lines == [f"line {i}" for i in range(1, 8)]
    assert runner.calls == [["journalctl", "-u", "cdn", "-n", "50", "--no-pager"]]

    res = tail_logs(Host(deployment, ProbeController("http://127.0.0.1:1")))
    assert res.outcome == "failed" and res.lines == []
    assert "no controller configured" in res.summary
