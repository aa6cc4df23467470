"""Append-only audit trail: one JSON object per line in ``<state-dir>/audit.jsonl``, fsync'd.

Every line has ``time`` and ``event``; the rest depends on the event:
``rejected`` (every request refused before anything ran: status 400/401/404/405/409/413/503 with
reason, method, path, caller, remote; or an invalid operation/args: reason = the error code,
outcome ``invalid``, job_id), ``accepted`` (a new job), ``duplicate`` (a known request id, nothing
run), ``started`` (the operation lock is held and the operation begins: exactly one line per
execution), ``finished`` (outcome, summary, the full ``result`` (the operation result's model_dump,
as stored on the job), error, traceback), ``busy`` (another state-changing operation held the lock:
refused, nothing ran, no ``started``), ``interrupted`` (found unfinished at startup), ``local_run``
(one CLI execution, with ``result``), ``local_busy`` / ``local_rejected`` (a CLI run refused as busy /
with invalid arguments), ``app_stopped_asserted`` (an operator asserted go-fast-cdn is stopped: by
whom, and whether that assertion was the proof the operation ran on). Counting ``started`` +
``local_run`` lines therefore counts executions.
Successful ``GET /v1/jobs/{id}`` polls are not audited (they change nothing; a bot polls several
times a second); rejected ones are.
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
