"""Persistent timers: fire once on a controlled clock, cancel, and re-arm from the table on restart."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.store import Store
from bot.timers import Timer, TimerService, UnknownTimerKind
from ops.models import utcnow
from tests.unit.bot.conftest import FakeClock


@pytest.fixture
def fired() -> list[Timer]:
    return []


@pytest.fixture
def timers(store: Store, clock: FakeClock, fired: list[Timer]) -> TimerService:
    t = TimerService(store, clock=clock)
    t.register("ping", fired.append)
    t.start()
    return t


def test_a_timer_fires_once_when_its_time_comes(timers: TimerService, clock: FakeClock, fired: list[Timer]) -> None:
    assert timers.schedule("ping", "p1", clock.now + timedelta(minutes=5), incident_id="RB-1", payload={"role": "x"})
    clock.advance(minutes=4, seconds=59)
    assert timers.run_due() == [] and fired == []
    clock.advance(seconds=1)
    assert timers.run_due() == ["p1"]
    assert [(t.key, t.payload, t.incident_id) for t in fired] == [("p1", {"role": "x"}, "RB-1")]
    assert timers.run_due() == [] and not timers.fire("p1")
    stored = timers.get("p1")
    assert stored is not None and stored.state == "fired" and stored.fired_at == clock.now


def test_a_key_is_used_once_even_after_firing(timers: TimerService, clock: FakeClock, fired: list[Timer]) -> None:
    assert timers.schedule("ping", "p1", clock.now)
    assert not timers.schedule("ping", "p1", clock.now + timedelta(hours=1))
    timers.run_due()
    assert not timers.schedule("ping", "p1", clock.now)
    timers.run_due()
    assert len(fired) == 1


def test_cancel_by_key_and_by_incident(timers: TimerService, clock: FakeClock, fired: list[Timer]) -> None:
    for key, incident in (("a", "RB-1"), ("b", "RB-1"), ("c", "RB-2")):
        timers.schedule("ping", key, clock.now + timedelta(minutes=1), incident_id=incident)
    assert timers.cancel("a") and not timers.cancel("a")
    assert timers.cancel_incident("RB-1") == 1
    clock.advance(minutes=2)
    assert timers.run_due() == ["c"]
    assert [t.key for t in fired] == ["c"]
    assert {t.key: t.state for t in map(timers.get, "abc") if t} == {"a": "cancelled", "b": "cancelled", "c": "fired"}


def test_unknown_kind_is_refused_and_a_failing_handler_still_counts_as_fired(
    store: Store, clock: FakeClock, timers: TimerService
) -> None:
    with pytest.raises(UnknownTimerKind):
        timers.schedule("nope", "k", clock.now)
    calls: list[str] = []

    def boom(timer: Timer) -> None:
        calls.append(timer.key)
        raise RuntimeError("slack down")

    timers.register("boom", boom)
    timers.schedule("boom", "b1", clock.now)
    assert timers.run_due() == ["b1"] and timers.run_due() == []
    assert calls == ["b1"]


def test_handlers_may_schedule_follow_ups_that_are_already_due(store: Store, clock: FakeClock) -> None:
    timers = TimerService(store, clock=clock)
    seen: list[str] = []

    def chain(timer: Timer) -> None:
        seen.append(timer.key)
        n = int(timer.payload["n"])
        if n < 3:
            timers.schedule("chain", f"c{n + 1}", clock.now, payload={"n": n + 1})

    timers.register("chain", chain)
    timers.schedule("chain", "c1", clock.now, payload={"n": 1})
    assert timers.run_due() == ["c1", "c2", "c3"] and seen == ["c1", "c2", "c3"]


def test_a_new_process_rearms_from_the_table_past_due_at_once_and_future_at_its_time(db_path: Path) -> None:
    """Two TimerServices on one file stand for the bot before and after a restart (real scheduler)."""
    first = TimerService(Store(db_path))
    first.register("ping", lambda t: None)
    now = utcnow()
    first.schedule("ping", "past", now - timedelta(minutes=10))
    first.schedule("ping", "soon", now + timedelta(seconds=1.5))
    first.schedule("ping", "later", now + timedelta(hours=1))
    first.store.close()  # never started: the "process" died before anything fired

    got: dict[str, float] = {}
    done = threading.Event()

    def record(timer: Timer) -> None:
        got[timer.key] = utcnow().timestamp()
        if {"past", "soon"} <= got.keys():
            done.set()

    second = TimerService(Store(db_path), scheduler=BackgroundScheduler(timezone="UTC"))
    second.register("ping", record)
    try:
        assert second.start() == 3
        assert done.wait(20), got
        assert got["soon"] >= (now + timedelta(seconds=1.5)).timestamp() - 0.05
        assert "later" not in got
        assert [t.key for t in second.pending()] == ["later"]
        assert second.cancel("later")
        assert second.scheduler is not None and second.scheduler.get_jobs() == []
    finally:
        second.close()
        second.store.close()
