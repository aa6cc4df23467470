"""``rollback-agent`` run locally as a real subprocess: exit codes 0/1/2/3 and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.db_holder import hold_open
from sandbox.gofastcdn_fixture import FixtureInfo, build_migrated_deployment
from tests.e2e.test_agent_harness import REPO, agent_env, closed_port_url, process_controller_flags


@pytest.fixture
def dep(tmp_path: Path) -> FixtureInfo:
    return build_migrated_deployment(tmp_path / "dep")


def cli(dep: FixtureInfo, *args: str, controller: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    flags = process_controller_flags(dep.root) if controller else ["--controller", "none"]
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args, *flags],
        env=agent_env(ROLLBACK_AGENT_DEPLOYMENT=str(dep.root), ROLLBACK_AGENT_API_URL=closed_port_url(), **env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_status_ok_exit_0(dep: FixtureInfo) -> None:
    proc = cli(dep, "status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK: status:")


def test_json_output(dep: FixtureInfo) -> None:
    proc = cli(dep, "backups", "list", "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["outcome"] == "ok"
    assert data["result"]["newest_pre_migration"] == dep.pre_migration_backup


def test_no_controller_nobody_holds_the_db_rollback_runs(dep: FixtureInfo) -> None:
    proc = cli(dep, "rollback", "--yes", "--json", controller=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proof = json.loads(proc.stdout)["result"]["stopped_proof"]
    assert proof["method"] == "open-files" and "no process holds main.db" in proof["detail"]


def test_no_controller_a_shell_holding_the_db_refused_exit_3(dep: FixtureInfo) -> None:
    with hold_open(dep.deployment.db_path) as holder:
        proc = cli(dep, "rollback", "--yes", "--app-stopped", controller=False)
    assert proc.returncode == 3
    assert proc.stdout.startswith("REFUSED rollback (db_in_use)") and f"pid {holder.pid}" in proc.stdout


def test_unprovable_state_refused_then_app_stopped_assertion_recorded(dep: FixtureInfo, tmp_path: Path) -> None:
    (tmp_path / "no-proc").mkdir()
    noproc = {"ROLLBACK_AGENT_PROC_ROOT": str(tmp_path / "no-proc")}
    proc = cli(dep, "rollback", "--yes", controller=False, **noproc)
    assert proc.returncode == 3
    assert proc.stdout.startswith("REFUSED rollback (app_state_unknown)") and "--app-stopped" in proc.stdout
    proc = cli(dep, "rollback", "--yes", "--app-stopped", "--json", controller=False, **noproc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    who = data["args"]["app_stopped_by"]
    assert who.startswith("cli:") and data["result"]["stopped_proof"]["method"] == "asserted"
    audit = [json.loads(line) for line in (dep.deployment.state_dir / "audit.jsonl").read_text().splitlines()]
    asserted = [a for a in audit if a["event"] == "app_stopped_asserted"]
    assert len(asserted) == 1 and asserted[0]["by"] == who and asserted[0]["proof_method"] == "asserted"


def test_destructive_without_tty_or_yes_exit_2(dep: FixtureInfo) -> None:
    proc = cli(dep, "rollback")
    assert proc.returncode == 2 and "--yes" in proc.stderr


def test_bad_input_exit_2(dep: FixtureInfo) -> None:
    assert cli(dep, "restore", "../main.db", "--yes").returncode == 2
    proc = cli(dep, "restore", "db_backup_19990101-000000.db", "--yes")
    assert proc.returncode == 2, proc.stdout
    assert cli(dep, "frobnicate").returncode == 2  # argparse


def test_failed_exit_1(dep: FixtureInfo) -> None:
    proc = cli(dep, "logs", "-n", "5", controller=False)  # no log source configured
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED: tail_logs")


def test_rollback_then_noop_exit_0_with_nothing_to_do(dep: FixtureInfo) -> None:
    first = cli(dep, "rollback", "--yes")
    assert first.returncode == 0 and first.stdout.startswith("OK: rollback"), first.stdout + first.stderr
    assert "..." in first.stderr  # progress lines
    again = cli(dep, "rollback", "--yes")
    assert again.returncode == 0 and again.stdout.startswith("NOTHING TO DO: rollback")
    local_runs = [
        json.loads(line)
        for line in (dep.root / ".rollback-agent" / "audit.jsonl").read_text().splitlines()
        if '"local_run"' in line
    ]
    assert [r["outcome"] for r in local_runs] == ["ok", "noop"]


def test_missing_deployment_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ops.cli", "status", "--deployment", str(tmp_path / "nowhere")],
        env=agent_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "db_data/main.db" in proc.stderr


def test_restore_sha256_pin(dep: FixtureInfo) -> None:
    """`restore BACKUP --sha256 HEX`: a wrong hash is bad input (exit 2) with main.db byte-identical;
    the right one restores and the result reports the checked value."""
    from ops.backups import sha256_file

    db = dep.root / "db_data" / "main.db"
    before = db.read_bytes()
    name = str(dep.pre_migration_backup)
    wrong = cli(dep, "restore", name, "--sha256", "0" * 64, "--yes")
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert wrong.stdout.startswith("INVALID restore (backup_checksum_mismatch)")
    assert db.read_bytes() == before
    real = sha256_file(dep.root / "backups" / name)
    dry = cli(dep, "dry-run", "restore", name, "--sha256", real, "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["result"]["expected_sha256"] == real
    ok = cli(dep, "restore", name, "--sha256", real.upper(), "--yes", "--json")
    data = json.loads(ok.stdout)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert data["args"] == {
        "backup": name,
        "expected_sha256": real.upper(),
        "accept_fewer_rows": None,
        "app_stopped_by": None,
    }
    assert data["result"]["expected_sha256"] == real == data["result"]["restored_sha256"]
    audit = [json.loads(line) for line in (dep.root / ".rollback-agent" / "audit.jsonl").read_text().splitlines()]
    runs = [r for r in audit if r["event"] == "local_run" and r["operation"] == "restore"]
    assert runs[-1]["result"]["expected_sha256"] == real  # the full result is audited
    assert runs[0]["error"]["code"] == "backup_checksum_mismatch" and runs[0]["result"] is None


def test_operation_of_maps_sha256() -> None:
    from ops.cli import build_parser, operation_of

    ns = build_parser().parse_args(["restore", "b.db", "--sha256", "ab" * 32])
    assert operation_of(ns) == ("restore", {"backup": "b.db", "expected_sha256": "ab" * 32})
    assert operation_of(build_parser().parse_args(["restore", "b.db"])) == ("restore", {"backup": "b.db"})
    ns = build_parser().parse_args(["dry-run", "restore", "b.db", "--sha256", "cd" * 32])
    assert operation_of(ns) == ("dry_run", {"operation": "restore", "backup": "b.db", "expected_sha256": "cd" * 32})
