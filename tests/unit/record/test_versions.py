"""Stored versions: resolve → v1; reopen → resolve → v2 with v1 unchanged; bad lookups are clear errors."""

from __future__ import annotations

import sqlite3

import pytest

from bot.incidents import IncidentAlreadyOpen, IncidentService
from bot.record.keeper import RecordKeeper
from bot.record.model import ClosingNotes
from bot.record.versions import UnknownRecordVersion
from tests.unit.bot.conftest import FakeClock


def test_reopen_and_resolve_again_stores_version_2_and_keeps_version_1(svc: IncidentService, clock: FakeClock) -> None:
    keeper = RecordKeeper(svc, time_zone="UTC", clock=clock)
    inc = svc.open("production", "major", "media 500s", "C1", "U1").id
    clock.advance(minutes=5)
    svc.resolve(inc, "U1", "fixed")
    v1 = keeper.write(inc, by="U1", notes=ClosingNotes(root_cause="first guess"))
    assert v1.version == 1 and "first guess" in v1.markdown

    clock.advance(minutes=30)
    assert svc.reopen(inc, "U2", "500s are back")
    assert svc.get(inc).is_open and svc.get(inc).closed_at is None
    assert not svc.reopen(inc, "U2")  # already open: nothing changes
    clock.advance(minutes=10)
    svc.resolve(inc, "U2", "fixed for real")
    keeper.write(inc, by="U2", notes=ClosingNotes(root_cause="the real cause"))

    assert [s.version for s in keeper.archive.versions(inc)] == [1, 2]
    assert keeper.archive.get(inc, 1).markdown == v1.markdown  # untouched
    assert keeper.archive.get(inc).version == 2
    rec2 = keeper.archive.get(inc, 2).record()
    assert rec2.version == 2 and rec2.notes.root_cause == "the real cause"
    assert any(e.kind == "incident.reopened" for e in rec2.timeline)
    assert {m.name: m.minutes for m in rec2.metrics}["time_to_resolved"] == 45
    assert [e.kind for e in svc.events(inc) if e.kind == "record.stored"] == ["record.stored"] * 2


def test_unknown_version_and_unknown_incident_are_clear_errors(svc: IncidentService, clock: FakeClock) -> None:
    keeper = RecordKeeper(svc, clock=clock)
    inc = svc.open("production", "major", "x", "C1", "U1").id
    with pytest.raises(UnknownRecordVersion, match=f"no stored record {inc}"):
        keeper.archive.get(inc)
    svc.cancel(inc, "U1", "false alarm")
    keeper.write(inc, by="U1", kind="short")
    with pytest.raises(UnknownRecordVersion, match=f"no stored record version 7 of {inc}"):
        keeper.archive.get(inc, 7)
    with pytest.raises(UnknownRecordVersion):
        keeper.archive.get("RB-99")


def test_a_version_is_never_overwritten(svc: IncidentService, clock: FakeClock) -> None:
    keeper = RecordKeeper(svc, clock=clock)
    inc = svc.open("production", "major", "x", "C1", "U1").id
    svc.resolve(inc, "U1", "ok")
    v1 = keeper.write(inc, by="U1")
    with pytest.raises(sqlite3.IntegrityError):
        keeper.archive.save(v1.record(), "other text", "U9")
    assert keeper.archive.get(inc, 1).markdown == v1.markdown


def test_reopen_refused_while_the_environment_has_another_open_incident(svc: IncidentService) -> None:
    first = svc.open("production", "major", "x", "C1", "U1").id
    svc.resolve(first, "U1", "ok")
    second = svc.open("production", "major", "y", "C1", "U1").id
    with pytest.raises(IncidentAlreadyOpen) as err:
        svc.reopen(first, "U1")
    assert err.value.incident.id == second
    assert svc.get(first).state == "resolved"
