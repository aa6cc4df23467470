"""The publisher's own worker pool: Web API calls never run on bolt's listener threads.

A listener acks, changes the store, and *asks* for a message to be posted or re-rendered; the ask
returns at once. Asks are keyed: while a key waits, asking again only replaces its work, and a key
never runs on two workers at once. Because the work renders from the store when it runs, ten clicks
in one section while Slack rate-limits ``chat.update`` become one or two edits showing the latest
state, never ten queued edits (or ten listener threads asleep in Retry-After).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class PublishQueue:
    def __init__(self, workers: int = 4, name: str = "slack-publisher") -> None:
        self._cond = threading.Condition()
        self._pending: OrderedDict[Hashable, Callable[[], object]] = OrderedDict()
        self._inflight: set[Hashable] = set()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, work: Callable[[], object]) -> None:
        """Run ``work`` soon; if ``key`` is already waiting, this replaces it (coalescing)."""
        with self._cond:
            if self._closed:
                log.warning("publisher closed; dropped %r (the reconciler redoes it on start)", key)
                return
            self._pending[key] = work
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._inflight)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """True once nothing waits or runs (tests, demo, shutdown)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking work; what is left is redone from the store by the next process."""
        with self._cond:
            self._closed = True
            dropped = len(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        if dropped:
            log.info("publisher closing: %d message update(s) left for the next start to reconcile", dropped)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _take(self) -> tuple[Hashable, Callable[[], object]] | None:
        """Under the lock: the oldest waiting key that is not running on another worker."""
        for key in self._pending:
            if key not in self._inflight:
                work = self._pending.pop(key)
                self._inflight.add(key)
                return key, work
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                taken = self._take()
                while taken is None:
                    if self._closed:
                        return
                    self._cond.wait()
                    taken = self._take()
            key, work = taken
            try:
                work()
            except Exception:  # one bad render must not kill the worker; the reconciler retries
                log.exception("publishing %r failed", key)
            finally:
                with self._cond:
                    self._inflight.discard(key)
                    self._cond.notify_all()
