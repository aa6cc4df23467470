"""Lock-free peeks at committed state (Store.query_committed) and the /rollback refusal built on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.incidents import IncidentAlreadyOpen, IncidentService
from bot.runbook import Runbook
from bot.store import Store


def test_a_peek_sees_committed_rows_and_never_waits_for_the_writer(tmp_path: Path, runbook: Runbook) -> None:
    store = Store(tmp_path / "odd name #1?.db")  # the read-only URI must survive such a path
    svc = IncidentService(store, runbook)
    svc.open("production", "critical", "", "C1", "U1")
    peeked: list[int] = []
    with store.transaction() as db:  # a writer holds the lock with an uncommitted change
        db.execute("UPDATE incidents SET state = 'resolved'")
        t = threading.Thread(
            target=lambda: peeked.append(len(store.query_committed("SELECT id FROM incidents WHERE state = 'open'")))
        )
        t.start()
        t.join(5)
        assert not t.is_alive(), "the peek waited for the writer's lock"
        db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
    assert peeked == [1], "the peek sees the committed row, not the writer's uncommitted change"
    store.close()


def test_openers_racing_past_the_peek_open_exactly_one_incident(tmp_path: Path, runbook: Runbook) -> None:
    store = Store(tmp_path / "bot.db")
    svc = IncidentService(store, runbook)
    barrier = threading.Barrier(8)
    opened: list[str] = []
    refused: list[str] = []

    def opener(i: int) -> None:
        barrier.wait()
        try:
            opened.append(svc.open("production", "critical", "", "C1", f"U{i}").id)
        except IncidentAlreadyOpen as exc:
            refused.append(exc.incident.id)

    threads = [threading.Thread(target=opener, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(opened) == 1 and refused == opened * 7
    assert [i.id for i in svc.incidents("open")] == opened
    store.close()


def test_a_memory_store_peeks_through_its_one_connection(runbook: Runbook) -> None:
    store = Store(":memory:")
    svc = IncidentService(store, runbook)
    svc.open("production", "critical", "", "C1", "U1")
    assert len(store.query_committed("SELECT id FROM incidents")) == 1
    with pytest.raises(IncidentAlreadyOpen):
        svc.open("production", "critical", "", "C1", "U1")
