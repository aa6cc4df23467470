"""Append-only audit trail: one JSON object per line in ``<state-dir>/audit.jsonl``, fsync'd.

Every line has ``time`` and ``event``; the rest depends on the event:
``rejected`` (401: reason, method, path, caller, remote), ``accepted`` (a new job), ``duplicate`` (a
known request id, nothing run), ``started`` / ``finished`` (one execution: outcome, summary, the full
``result`` (the operation result's model_dump, as stored on the job), error, traceback),
``interrupted`` (found unfinished at startup), ``local_run`` (the CLI, no agent; also with ``result``).
Counting ``started`` lines per job therefore counts executions. Successful ``GET /v1/jobs/{id}`` polls
are not audited (they change nothing; a bot polls several times a second); rejected ones are.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ops.models import utcnow


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": utcnow().isoformat(), "event": event, **fields}
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """All records (for tests and ``rollback-agent``'s own tooling; the file may be large)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
