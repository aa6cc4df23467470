"""Shared fixtures: a store on a temp file, the default runbook, a clock that only moves when told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.incidents import IncidentService
from bot.runbook import Runbook, load_runbook
from bot.store import Store


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(scope="session")
def runbook() -> Runbook:
    return load_runbook()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


@pytest.fixture
def svc(store: Store, runbook: Runbook, clock: FakeClock) -> IncidentService:
    return IncidentService(store, runbook, clock=clock)
