"""Helpers shared by the bot domain tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bot.incidents import Incident, IncidentService


def open_prod(svc: IncidentService, env: str = "prod") -> Incident:
    return svc.open(env, "critical", "media broken", "C1", "U1")


def kinds(svc: IncidentService, incident_id: str) -> list[str]:
    return [e.kind for e in svc.events(incident_id)]


def run_in_threads(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(i) in n threads released together; returns results or raised exceptions."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # collected for the assertion
            out[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out
