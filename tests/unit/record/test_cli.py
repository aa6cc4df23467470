"""rollback-bot record | incidents | stats against a store file; clear errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from app.cli import main
from bot.incidents import IncidentService
from bot.record.keeper import RecordKeeper
from bot.record.model import ClosingNotes
from bot.record.schema import record_json_schema
from tests.unit.bot.conftest import FakeClock
from tests.unit.record.scenario import full_incident


@pytest.fixture
def filled(svc: IncidentService, clock: FakeClock, db_path: Path) -> Path:
    keeper = RecordKeeper(svc, time_zone="America/New_York", clock=clock)
    inc = full_incident(svc, clock)
    keeper.write(inc, by="U0ALICE", notes=ClosingNotes(root_cause="v1 cause"))
    svc.reopen(inc, "U0BOB", "again")
    clock.advance(minutes=20)
    svc.resolve(inc, "U0BOB", "ok")
    keeper.write(inc, by="U0BOB", notes=ClosingNotes(root_cause="v2 cause"))
    second = svc.open("staging", "minor", "false alarm", "C1", "U0CAROL").id
    clock.advance(minutes=2)
    svc.cancel(second, "U0CAROL", "false alarm")
    keeper.write(second, by="U0CAROL", kind="short")
    svc.open("staging", "major", "still open", "C1", "U0CAROL")
    return db_path


def test_record_prints_markdown_json_and_versions(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "RB-1", "--store", str(filled)]) == 0
    latest = capsys.readouterr().out
    assert latest.startswith("# RB-1") and "v2 cause" in latest and "America/New_York" in latest
    assert "2025-01-01 22:04:05 EST" in latest  # 03:04:05 UTC in New York
    assert main(["record", "RB-1", "--version", "1", "--store", str(filled)]) == 0
    assert "v1 cause" in capsys.readouterr().out
    assert main(["record", "RB-1", "--format", "json", "--version", "1", "--store", str(filled)]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, record_json_schema())
    assert document["version"] == 1 and document["notes"]["root_cause"] == "v1 cause"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["record", "RB-9"], "unknown incident RB-9"),
        (["record", "RB-1", "--version", "3"], "no stored record version 3 of RB-1 (stored versions: 1, 2)"),
        (["record", "RB-3"], "no stored record RB-3"),
    ],
)
def test_unknown_incident_or_version_exits_2(
    filled: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--store", str(filled)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_store_is_an_error_not_an_empty_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "--store", str(tmp_path / "nope.db")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_incidents_and_stats(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "--store", str(filled)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["incident", "environment", "severity", "state", "opened"]
    rb1, rb2, rb3 = lines[1:]
    assert rb1.split()[:4] == ["RB-1", "production", "critical", "resolved"]
    assert "2.0 met" in " ".join(rb1.split()) and "30.0 MISSED" in " ".join(rb1.split())
    assert rb2.split()[:4] == ["RB-2", "staging", "minor", "cancelled"]
    assert rb3.split()[:4] == ["RB-3", "staging", "major", "open"]
    assert main(["stats", "--store", str(filled)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 incident(s)")
    assert "Time to first acknowledgement: median 2.0 min, worst 2.0 (RB-1) min, met target 1/1 measured" in out
    assert "Time to resolved: median 30.0 min, worst 30.0 (RB-1) min, met target 0/1 measured" in out


def test_drills_are_listed_but_never_counted_in_stats(
    svc: IncidentService, clock: FakeClock, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = svc.open("production", "critical", "real", "C1", "U0ALICE").id
    clock.advance(minutes=30)
    svc.resolve(real, "U0ALICE", "ok")
    drill = svc.open("production", "critical", "rehearsal", "C1", "U0ALICE", drill=True).id
    clock.advance(minutes=300)  # a slow rehearsal must not make the worst time to resolve
    svc.resolve(drill, "U0ALICE", "ok")
    assert main(["incidents", "--store", str(db_path)]) == 0
    listed = capsys.readouterr().out
    assert f"{drill}" in listed and "(drill: not in stats)" in listed
    assert main(["stats", "--store", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 incident(s) (1 drill(s) left out)")
    assert "Time to resolved: median 30.0 min, worst 30.0 (RB-1) min" in out
