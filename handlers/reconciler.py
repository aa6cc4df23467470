"""Brings every recent incident's thread back in line with the store: on start, then periodically.

A post that failed or timed out, a ``chat.update`` that ran out of 429 retries, a bot killed halfway
through the checklist: each leaves the thread behind the store. Each pass asks the publisher to post
what the thread plan says is missing (looking in-doubt posts up first) and to re-render every posted
message; a render identical to what Slack already shows costs no API call.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from bot.incidents import IncidentService
from handlers.publisher import ThreadPublisher

log = logging.getLogger(__name__)


class ThreadReconciler:
    def __init__(
        self,
        publisher: ThreadPublisher,
        service: IncidentService,
        *,
        interval_s: float = 15.0,
        closed_window: timedelta = timedelta(days=2),
    ) -> None:
        self.publisher = publisher
        self.service = service
        self.interval_s = interval_s
        self.closed_window = closed_window
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def incidents(self) -> list[str]:
        """Open incidents, and closed ones with a thread that closed recently (their last edits)."""
        since = self.service.clock() - self.closed_window
        return [
            i.id
            for i in self.service.incidents()
            if i.is_open or (i.thread_ts is not None and i.closed_at is not None and i.closed_at >= since)
        ]

    def run_once(self) -> list[str]:
        ids = self.incidents()
        for incident_id in ids:
            if self.service.get(incident_id).is_open:
                self.publisher.plan.plan_incident(incident_id)  # a store from before the plan existed
        self.publisher.reconcile(ids)
        return ids

    def start(self) -> ThreadReconciler:
        """One pass now (the restart case), then every ``interval_s`` on a daemon thread."""
        if self.run_once():
            log.info("reconciling the threads of %d incident(s)", len(self.incidents()))

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.run_once()
                except Exception:
                    log.exception("reconcile pass failed; trying again in %.0f s", self.interval_s)

        self._thread = threading.Thread(target=loop, name="thread-reconciler", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
