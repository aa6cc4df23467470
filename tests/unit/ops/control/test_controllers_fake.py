"""systemd and compose controllers against a scripted runner: exact argv, state parsing, confirmation."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pydantic
import pytest

from ops.control import (
    ComposeConfig,
    ComposeController,
    ControllerError,
    ProbeController,
    ProcessController,
    SystemdConfig,
    SystemdController,
    make_controller,
)
from ops.control.compose import parse_ps


class FakeRunner:
    """Records argv; answers with ``script(argv) -> (rc, out, err)``."""

    def __init__(self, script: Callable[[list[str]], tuple[int, str, str]]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout_s: float) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        return self.script(list(argv))


class FakeSystemd:
    """A unit whose is-active answer flips when stop/start works (``effective=False``: it never does)."""

    def __init__(
        self, active: str = "active", effective: bool = True, rc_action: int = 0, load: str = "loaded"
    ) -> None:
        self.active = active
        self.load = load
        self.effective = effective
        self.rc_action = rc_action

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        args = argv[2:] if argv[:2] == ["sudo", "-n"] else argv
        if args[:2] == ["systemctl", "is-active"]:
            return (0 if self.active == "active" else 3), self.active + "\n", ""
        if args[:2] == ["systemctl", "show"]:
            return 0, self.load + "\n", ""
        if args[0] == "systemctl" and args[1] in ("stop", "start"):
            if self.rc_action:
                return self.rc_action, "", "Failed to stop unit: Access denied\n"
            if self.effective:
                self.active = "inactive" if args[1] == "stop" else "active"
            return 0, "", ""
        if args[0] == "journalctl":
            return 0, "".join(f"line {i}\n" for i in range(1, 8)), ""
        return 127, "", "unexpected"


# -- factory / config -------------------------------------------------------------------------


def test_make_controller_picks_kind_from_dict(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1"
    assert isinstance(make_controller({"kind": "systemd", "unit": "cdn"}, url), SystemdController)
    comp = make_controller({"kind": "compose", "project_dir": str(tmp_path), "service": "app"}, url)
    assert isinstance(comp, ComposeController)
    proc = make_controller({"kind": "process", "command": ["x"], "pidfile": str(tmp_path / "p")}, url)
    assert isinstance(proc, ProcessController) and proc.kind == "process"
    none = make_controller({"kind": "none"}, url)
    assert isinstance(none, ProbeController) and none.kind == "none"


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "kubernetes"},
        {"kind": "systemd"},  # unit missing
        {"kind": "systemd", "unit": "cdn", "sudo": True},  # typo: extra fields are refused
        {"kind": "process", "command": [], "pidfile": "/tmp/p"},
    ],
)
def test_bad_controller_config_is_a_validation_error(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        make_controller(bad, "http://127.0.0.1:1")


# -- systemd ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "running"),
    [("active", True), ("activating", True), ("deactivating", True), ("inactive", False), ("failed", False)],
)
def test_systemd_state_words(word: str, running: bool) -> None:
    ctl = SystemdController(SystemdConfig(unit="cdn.service"), FakeRunner(FakeSystemd(word)))
    st = ctl.state()
    assert st.running is running
    assert word in st.detail


def test_systemd_state_unknown_when_systemctl_fails() -> None:
    runner = FakeRunner(lambda a: (127, "", "systemctl: command not found"))
    st = SystemdController(SystemdConfig(unit="cdn"), runner).state()
    assert st.running is None
    assert "command not found" in st.detail
    assert runner.calls == [["systemctl", "is-active", "cdn"]]


def test_systemd_unit_typo_is_unknown_not_stopped() -> None:
    runner = FakeRunner(FakeSystemd("inactive", load="not-found"))
    st = SystemdController(SystemdConfig(unit="cnd"), runner).state()
    assert st.running is None
    assert "'not-found': is the unit name right?" in st.detail
    assert runner.calls == [
        ["systemctl", "is-active", "cnd"],
        ["systemctl", "show", "-p", "LoadState", "--value", "cnd"],
    ]


def test_systemd_stop_confirms_and_uses_exact_argv() -> None:
    runner = FakeRunner(FakeSystemd("active"))
    ctl = SystemdController(SystemdConfig(unit="cdn.service", use_sudo=True), runner)
    st = ctl.stop(timeout_s=1)
    assert st.running is False
    assert runner.calls[0] == ["sudo", "-n", "systemctl", "stop", "cdn.service"]
    assert runner.calls[1] == ["systemctl", "is-active", "cdn.service"]  # the confirmation
    assert runner.calls[2] == ["systemctl", "show", "-p", "LoadState", "--value", "cdn.service"]


def test_systemd_start_without_sudo() -> None:
    runner = FakeRunner(FakeSystemd("inactive"))
    st = SystemdController(SystemdConfig(unit="cdn"), runner).start(timeout_s=1)
    assert st.running is True
    assert runner.calls[0] == ["systemctl", "start", "cdn"]


def test_systemd_stop_without_effect_reports_failure() -> None:
    runner = FakeRunner(FakeSystemd("active", effective=False))
    st = SystemdController(SystemdConfig(unit="cdn"), runner).stop(timeout_s=0.3)
    assert st.running is True
    assert "stop did not take effect within 0.3s" in st.detail
    assert "systemctl stop rc=0" in st.detail
    assert len(runner.calls) >= 3  # polled is-active more than once


def test_systemd_stop_denied_reports_stderr() -> None:
    runner = FakeRunner(FakeSystemd("active", rc_action=4))
    st = SystemdController(SystemdConfig(unit="cdn"), runner).stop(timeout_s=5)
    assert st.running is True
    assert "rc=4" in st.detail and "Access denied" in st.detail


def test_systemd_logs_argv_and_lines() -> None:
    runner = FakeRunner(FakeSystemd())
    ctl = SystemdController(SystemdConfig(unit="cdn", use_sudo=True), runner)
    assert ctl.logs(3) == ["line 5", "line 6", "line 7"]
    assert runner.calls == [["sudo", "-n", "journalctl", "-u", "cdn", "-n", "3", "--no-pager"]]


def test_systemd_logs_failure_raises_controller_error() -> None:
    ctl = SystemdController(SystemdConfig(unit="cdn"), FakeRunner(lambda a: (1, "", "No journal files")))
    with pytest.raises(ControllerError, match="No journal files"):
        ctl.logs(10)


# -- compose ----------------------------------------------------------------------------------


def ps_line(state: str, service: str = "app") -> str:
    return json.dumps({"Name": f"cdn-{service}-1", "Service": service, "State": state})


def test_parse_ps_accepts_array_and_ndjson() -> None:
    assert parse_ps("") == []
    arr = json.dumps([{"Service": "app", "State": "running"}])
    assert parse_ps(arr) == [{"Service": "app", "State": "running"}]
    nd = ps_line("running") + "\n" + ps_line("exited", "db") + "\n"
    assert [r["State"] for r in parse_ps(nd)] == ["running", "exited"]


@pytest.mark.parametrize(
    ("out", "running", "needle"),
    [
        (ps_line("running"), True, "cdn-app-1=running"),
        (ps_line("paused"), True, "paused"),
        (ps_line("exited"), False, "cdn-app-1=exited"),
        ("", False, "no container for service app"),
        (ps_line("running", "other"), False, "no container"),
        ("not json", None, "cannot parse"),
    ],
)
def test_compose_state_parsing(tmp_path: Path, out: str, running: bool | None, needle: str) -> None:
    runner = FakeRunner(lambda a: (0, out, ""))
    st = ComposeController(ComposeConfig(project_dir=tmp_path, service="app"), runner).state()
    assert st.running is running
    assert needle in st.detail


def test_compose_argv_uses_project_dir_and_found_file(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    runner = FakeRunner(lambda a: (0, ps_line("running"), ""))
    ComposeController(ComposeConfig(project_dir=tmp_path, service="app"), runner).state()
    base = [
        "docker",
        "compose",
        "--project-directory",
        str(tmp_path),
        "-f",
        str(tmp_path / "docker-compose.yml"),
    ]
    assert runner.calls == [[*base, "ps", "--all", "--format", "json", "app"]]


class FakeCompose:
    def __init__(self, state: str, effective: bool = True) -> None:
        self.state = state
        self.effective = effective

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        verb = argv[argv.index("-f") + 2] if "-f" in argv else argv[4]
        if verb == "ps":
            return 0, ps_line(self.state), ""
        if verb in ("stop", "start"):
            if self.effective:
                self.state = "exited" if verb == "stop" else "running"
            return 0, "", ""
        if verb == "logs":
            return 0, "app-1  | a\napp-1  | b\n", "WARN obsolete version\n"
        return 1, "", "?"


def test_compose_stop_start_confirmed(tmp_path: Path) -> None:
    cfg = ComposeConfig(project_dir=tmp_path, service="app", compose_file=Path("prod.yml"))
    runner = FakeRunner(FakeCompose("running"))
    ctl = ComposeController(cfg, runner)
    base = ["docker", "compose", "--project-directory", str(tmp_path), "-f", str(tmp_path / "prod.yml")]
    st = ctl.stop(timeout_s=10)
    assert st.running is False
    assert runner.calls[0] == [*base, "stop", "--timeout", "8", "app"]
    st = ctl.start(timeout_s=10)
    assert st.running is True
    assert [*base, "start", "app"] in runner.calls


def test_compose_stop_without_effect_fails(tmp_path: Path) -> None:
    runner = FakeRunner(FakeCompose("running", effective=False))
    st = ComposeController(ComposeConfig(project_dir=tmp_path, service="app"), runner).stop(timeout_s=0.3)
    assert st.running is True
    assert "stop did not take effect" in st.detail


def test_compose_logs_stdout_only(tmp_path: Path) -> None:
    runner = FakeRunner(FakeCompose("running"))
    ctl = ComposeController(ComposeConfig(project_dir=tmp_path, service="app"), runner)
    assert ctl.logs(1) == ["app-1  | b"]
    assert runner.calls[-1][-5:] == ["logs", "--no-color", "--tail", "1", "app"]
