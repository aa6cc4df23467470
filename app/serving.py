"""Run an ASGI app with uvicorn, in the foreground (serve) or in a thread (demo and tests)."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

# How long a thread may hold the GIL while another waits (CPython's default is 5 ms). The event loop
# that sends every ack gives the GIL up at each system call (epoll, a hash of a large body, a SQLite
# read) and then waits for a worker to hand it back: at 5 ms that wait, not the work, was the ack's
# latency under load (bench/README.md).
SWITCH_INTERVAL_S = 0.0005


def tune_for_acks() -> None:
    """Tune the process for acks before serving: start-up objects out of the collector's reach
    (``gc.freeze``: the app's modules, models and runbook live as long as the process, and a full
    collection that rescans them held the GIL for 100 ms or more under load), and a short GIL
    switch interval."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class ThreadedServer:
    """uvicorn on a background thread; ``url`` is known once ``start`` returns (port 0 allowed)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.url = ""

    def start(self, timeout_s: float = 10.0) -> ThreadedServer:
        tune_for_acks()
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[ThreadedServer]:
    srv = ThreadedServer(app, host, port).start()
    try:
        yield srv
    finally:
        srv.stop()


def serve_forever(app: Any, host: str, port: int) -> None:
    tune_for_acks()
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", proxy_headers=True)
