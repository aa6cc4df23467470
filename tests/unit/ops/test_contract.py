"""Every agent operation is declared once (ops/contract.py) and everything keyed by it covers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handlers.results import PRESENTERS
from ops.cli import COMMANDS, build_parser, operation_of
from ops.contract import DESTRUCTIVE, OPERATIONS, Args, operation
from ops.models import OpResult
from ops.registry import IMPLEMENTATIONS, default_registry


def test_every_operation_has_an_implementation_a_cli_command_and_a_presenter() -> None:
    names = set(OPERATIONS)
    assert set(IMPLEMENTATIONS) == names, "ops/registry.py IMPLEMENTATIONS"
    assert set(COMMANDS) == names, "ops/cli.py COMMANDS"
    assert set(PRESENTERS) == names, "handlers result PRESENTERS"
    assert set(default_registry().names()) == names


def test_registry_flags_come_from_the_contract() -> None:
    reg = default_registry()
    for name, op in OPERATIONS.items():
        spec = reg.get(name)
        assert (spec.args_model, spec.destructive, spec.long, spec.exclusive, spec.description) == (
            op.args,
            op.destructive,
            op.long,
            op.exclusive,
            op.description,
        )
        assert issubclass(op.args, Args) and issubclass(op.result, OpResult)
        assert not op.destructive or op.exclusive
    assert {"stop_app", "start_app", "rollback", "restore", "recover_journal", "replace_db"} == DESTRUCTIVE


def test_cli_asks_for_confirmation_exactly_for_destructive_operations() -> None:
    parser = build_parser()
    for name, command in COMMANDS.items():
        argv = [*command.words]
        if name in ("restore", "replace_db"):
            argv.append("b.db")
        if name == "dry_run":
            argv.append("rollback")
        ns = parser.parse_args(argv)
        assert operation_of(ns)[0] == name
        assert hasattr(ns, "yes") == (name in DESTRUCTIVE), name


def test_an_operation_missing_from_the_cli_stops_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    import ops.cli as cli

    monkeypatch.delitem(cli.COMMANDS, "verify")
    with pytest.raises(RuntimeError, match=r"\['verify'\] have no command"):
        build_parser()


def test_an_operation_missing_an_implementation_stops_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    import ops.registry as registry

    monkeypatch.delitem(registry.IMPLEMENTATIONS, "dry_run")
    with pytest.raises(RuntimeError, match=r"missing \['dry_run'\]"):
        registry.default_registry()


def test_unknown_operation_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown agent operation 'vacuum'; known: status"):
        operation("vacuum")


def test_the_bot_side_loads_without_the_agent_implementation() -> None:
    """The contract, the models, the client and the whole bot import none of the agent's code."""
    code = (
        "import sys, app.factory, handlers.results, ops.client; "
        "bad = sorted(m for m in sys.modules if m in FORBIDDEN); print(bad); sys.exit(1 if bad else 0)"
    )
    forbidden = [
        "ops.backups",
        "ops.rollback",
        "ops.verify",
        "ops.status",
        "ops.app_ops",
        "ops.dry_run",
        "ops.files",
        "ops.schema",
        "ops.registry",
        "ops.agent.jobs",
        "ops.agent.server",
        "ops.control",
        "ops.host",
    ]
    run = subprocess.run(
        [sys.executable, "-c", f"FORBIDDEN = {forbidden!r}\n{code}"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_result_checks_are_the_names_the_operations_produce(tmp_path: Path) -> None:
    """Runbook steps name checks as operation:check; those names must be what verify and check_api emit."""
    from ops.app_ops import check_api
    from ops.contract import RESULT_CHECKS
    from ops.control.probe import ProbeController
    from ops.host import Host
    from ops.verify import verify
    from sandbox.gofastcdn_fixture import build_migrated_deployment

    info = build_migrated_deployment(tmp_path / "gfc")
    assert tuple(c.name for c in verify(info.host()).checks) == RESULT_CHECKS["verify"]
    url = "http://127.0.0.1:9"  # nothing listens: every check is still reported, as not run
    res = check_api(Host(info.deployment, ProbeController(url), url), timeout_s=1)
    assert tuple(c.name for c in res.checks) == RESULT_CHECKS["check_api"]
