"""Failure injection: make the next N calls of a method slow, rate limited or failing."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    method: str  # a Web API method, "response_url", "upload", or "*" for every call
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay_s: float = 0.0
    times: int | None = 1  # None: every call until cleared
    after: int = 0  # fire from call number after+1 of the method on (e.g. a 429 in the middle of paging)


class Faults:
    """Per-method queue of faults; each matching call consumes one use of the oldest fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def discard(self, fault: Fault) -> None:
        """Withdraw one fault (e.g. a slow API switched off from the page); gone already is fine."""
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str) -> Fault | None:
        """The fault for this call, if any. ``after`` counts every call of the method since injection."""
        with self._lock:
            chosen: Fault | None = None
            for fault in list(self._faults):
                if fault.method not in (method, "*"):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if chosen is None:
                    chosen = fault
            if chosen is not None and chosen.times is not None:
                chosen.times -= 1
                if chosen.times <= 0:
                    self._faults.remove(chosen)
            return chosen
