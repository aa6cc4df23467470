"""Idempotent jobs: persisted in SQLite, run on worker threads, never run twice.

A ``request_id`` maps to exactly one job for the life of the state dir (UNIQUE in SQLite), so a
client may retry a submission blindly, even across an agent restart. A job found unfinished at
startup was interrupted by a crash: it is closed as ``error`` and never re-run, because re-running a
half-done rollback or restore without a human looking first is the one thing worse than failing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ops import leftovers
from ops.agent import locks
from ops.agent.audit import AuditLog
from ops.backups import separate_db_links
from ops.drill import drill_result, drill_root, prepare_drill
from ops.errors import OpError, OpInputError
from ops.host import Host
from ops.leftovers import Leftover
from ops.models import JobError, JobOutcome, JobView, ProgressLine, utcnow
from ops.registry import PreparedCall, Registry

MAX_PROGRESS_LINES = 1000
MAX_PROGRESS_CHARS = 500
INTERRUPTED = "agent restarted during the job"


class RequestIdConflict(Exception):
    """A known request id resubmitted with a different operation or args (a caller bug, 409)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    args TEXT NOT NULL,
    caller TEXT NOT NULL,
    remote TEXT,
    state TEXT NOT NULL,
    outcome TEXT,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    drill TEXT
);
CREATE TABLE IF NOT EXISTS progress (
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
"""


def canonical_args(args: object) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)


class JobStore:
    """SQLite persistence; one connection guarded by a lock (jobs are few, writes are tiny)."""

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}
            if "drill" not in columns:  # a job store from before drills
                self._db.execute("ALTER TABLE jobs ADD COLUMN drill TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(
        self,
        *,
        request_id: str,
        operation: str,
        args: object,
        caller: str,
        remote: str | None,
        finished: tuple[JobOutcome, JobError] | None = None,
        drill: str | None = None,
    ) -> tuple[JobView, bool]:
        """Create the job, or return the existing one for ``request_id`` (created=False)."""
        now = utcnow().isoformat()
        job_id = uuid.uuid4().hex
        outcome, error = finished if finished else (None, None)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO jobs (job_id, request_id, operation, args, caller, remote, state, outcome,"
                    " error, created_at, finished_at, drill) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        job_id,
                        request_id,
                        operation,
                        canonical_args(args),
                        caller,
                        remote,
                        "finished" if finished else "queued",
                        outcome,
                        error.model_dump_json() if error else None,
                        now,
                        now if finished else None,
                        drill,
                    ),
                )
                created = True
            except sqlite3.IntegrityError:
                created = False
            row = self._db.execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
            view = self._view(row)
        same_drill = row["drill"] == drill
        if not created and (
            view.operation != operation or canonical_args(view.args) != canonical_args(args) or not same_drill
        ):
            raise RequestIdConflict(
                f"request_id {request_id!r} was already used for {view.operation} {canonical_args(view.args)}"
                f" (job {view.job_id}); use a new request_id for a different request"
            )
        return view, created

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return self._view(row) if row else None

    def mark_running(self, job_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state='running', started_at=? WHERE job_id=? AND state='queued'",
                (utcnow().isoformat(), job_id),
            )

    def add_progress(self, job_id: str, seq: int, message: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO progress (job_id, seq, at, message) VALUES (?,?,?,?)",
                (job_id, seq, utcnow().isoformat(), message),
            )

    def finish(self, job_id: str, outcome: JobOutcome, result: dict[str, Any] | None, error: JobError | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state='finished', outcome=?, result=?, error=?, finished_at=? WHERE job_id=?",
                (
                    outcome,
                    json.dumps(result) if result is not None else None,
                    error.model_dump_json() if error else None,
                    utcnow().isoformat(),
                    job_id,
                ),
            )

    def close_interrupted(self) -> list[JobView]:
        """Close every unfinished job as ``error``: the process that ran it is gone."""
        error = JobError(
            kind="error",
            code="agent_restarted",
            message=f"{INTERRUPTED}; it was not re-run: check `status` before trying again",
        )
        with self._lock:
            rows = self._db.execute("SELECT job_id FROM jobs WHERE state != 'finished'").fetchall()
        ids = [r["job_id"] for r in rows]
        for job_id in ids:
            self.finish(job_id, "error", None, error)
        return [v for v in (self.get(j) for j in ids) if v is not None]

    def _view(self, row: sqlite3.Row) -> JobView:
        progress = self._db.execute(
            "SELECT at, message FROM progress WHERE job_id = ? ORDER BY seq", (row["job_id"],)
        ).fetchall()
        return JobView(
            job_id=row["job_id"],
            request_id=row["request_id"],
            operation=row["operation"],
            args=json.loads(row["args"]),
            caller=row["caller"],
            state=row["state"],
            outcome=row["outcome"],
            progress=[ProgressLine(at=p["at"], message=p["message"]) for p in progress],
            result=json.loads(row["result"]) if row["result"] else None,
            error=JobError.model_validate_json(row["error"]) if row["error"] else None,
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )


class _ProgressSink:
    """The ``progress`` callback handed to an operation: bounded, never raises into the operation."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self._store = store
        self._job_id = job_id
        self._seq = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            if self._seq >= MAX_PROGRESS_LINES:
                self.dropped += 1
                return
            self._seq += 1
            seq = self._seq
        # Losing a progress line must not fail a rollback.
        with contextlib.suppress(sqlite3.Error):
            self._store.add_progress(self._job_id, seq, str(message)[:MAX_PROGRESS_CHARS])

    def close(self) -> None:
        if self.dropped:
            self._store.add_progress(self._job_id, MAX_PROGRESS_LINES + 1, f"({self.dropped} more lines dropped)")


def _sweep_leftovers(host: Host) -> tuple[list[Leftover], list[str]]:
    """Remove a dead agent run's temp files and give a cut-off restore's pre-restore link a copy of
    its own (warning lines); a failure here never stops the operation."""
    try:
        found = leftovers.sweep(host.deployment)
    except OSError:
        found = []
    try:
        separated = separate_db_links(host.deployment)
    except OSError as exc:
        separated = [f"could not check backups/ for hard links to main.db: {exc}"]
    return found, separated


def run_call(
    call: PreparedCall,
    host: Host,
    progress: Any,
    *,
    state_dir: Path,
    job_id: str | None = None,
    on_start: Callable[[], None] | None = None,
) -> tuple[JobOutcome, dict[str, Any] | None, JobError | None, str | None]:
    """Run one prepared call under the deployment lock when needed and map how it ended.

    Returns (outcome, result, error, traceback). Shared by agent jobs and local CLI runs so both
    report a refusal, bad input or crash the same way; a crash is never reported as ok.
    ``on_start`` is called once the lock is held, right before the operation runs: a ``busy``
    refusal never calls it, so an audit ``started`` line always means one execution. Every
    operation first removes the temp files of a dead agent run (reported in ``leftovers_removed``)
    and gives a cut-off restore's pre-restore link a copy of its own (a warning line).
    """
    guard: AbstractContextManager[None] = (
        locks.exclusive(state_dir, call.spec.name, job_id) if call.spec.exclusive else nullcontext()
    )
    try:
        with guard:
            if on_start is not None:
                on_start()
            found, separated = _sweep_leftovers(host)
            result = call.run(host, progress)
            result.leftovers_removed = [f.path for f in found if f.removed] + result.leftovers_removed
            result.warnings = leftovers.describe(found) + separated + result.warnings
        return result.outcome, result.model_dump(mode="json"), None, None
    except OpError as exc:
        outcome: JobOutcome = exc.kind if exc.kind in ("refused", "invalid") else "failed"  # type: ignore[assignment]
        return outcome, None, JobError(**exc.to_dict()), None
    except Exception as exc:  # noqa: BLE001 - the job must end with a reported error, whatever happened
        message = str(exc) or type(exc).__name__
        return (
            "error",
            None,
            JobError(kind="error", code=type(exc).__name__, message=message),
            (traceback.format_exc()),
        )


def is_busy(outcome: JobOutcome, error: JobError | None) -> bool:
    """The lock was held by another operation: refused before anything ran."""
    return outcome == "refused" and error is not None and error.code == "busy"


def stopped_note(result: dict[str, Any] | None) -> dict[str, Any]:
    """For the ``app_stopped_asserted`` audit line: whether the assertion was what let it run."""
    proof = (result or {}).get("stopped_proof") or {}
    return {"proof_method": proof.get("method"), "proof_detail": proof.get("detail")}


class JobExecutor:
    """Accepts submissions, runs them on threads, answers lookups."""

    def __init__(self, store: JobStore, registry: Registry, host: Host, audit: AuditLog, state_dir: Path) -> None:
        self.store = store
        self.registry = registry
        self.host = host
        self.audit = audit
        self.state_dir = state_dir
        self._threads: dict[str, threading.Thread] = {}
        self._threads_lock = threading.Lock()
        for view in store.close_interrupted():
            audit.write(
                "interrupted",
                job_id=view.job_id,
                request_id=view.request_id,
                operation=view.operation,
                args=view.args,
                caller=view.caller,
                outcome="error",
                reason=INTERRUPTED,
            )

    def submit(
        self,
        *,
        request_id: str,
        operation: str,
        args: object,
        caller: str,
        remote: str | None,
        drill: str | None = None,
    ) -> tuple[JobView, bool]:
        """Return (job, created). Invalid requests become finished ``invalid`` jobs (nothing run).

        With ``drill`` the job runs on that drill's scratch copy of the deployment (ops/drill.py).
        """
        call: PreparedCall | None = None
        finished: tuple[JobOutcome, JobError] | None = None
        try:
            call = self.registry.prepare(operation, args)
            if drill is not None:
                drill_root(self.state_dir, drill)  # validates the id before anything is stored
        except OpInputError as exc:
            finished = ("invalid", JobError(**exc.to_dict()))
        view, created = self.store.insert(
            request_id=request_id,
            operation=operation,
            args=args,
            caller=caller,
            remote=remote,
            finished=finished,
            drill=drill,
        )
        common = {
            "job_id": view.job_id,
            "request_id": request_id,
            "operation": operation,
            "args": args,
            "caller": caller,
            "remote": remote,
            **({"drill": drill} if drill else {}),
        }
        if not created:
            self.audit.write("duplicate", **common, state=view.state, outcome=view.outcome)
            return view, False
        if finished:  # invalid: recorded as a finished job (the request id is spent), nothing runs
            self.audit.write(
                "rejected", **common, reason=finished[1].code, outcome=finished[0], error=finished[1].model_dump()
            )
            return view, True
        self.audit.write("accepted", **common)
        assert call is not None
        thread = threading.Thread(
            target=self._execute, args=(view.job_id, call, common, drill), name=f"job-{view.job_id[:8]}"
        )
        with self._threads_lock:
            self._threads[view.job_id] = thread
        thread.start()
        return view, True

    def get(self, job_id: str) -> JobView | None:
        return self.store.get(job_id)

    def _run_drill(
        self, call: PreparedCall, sink: Any, drill: str, job_id: str, on_start: Callable[[], None]
    ) -> tuple[JobOutcome, dict[str, Any] | None, JobError | None, str | None]:
        """The same call on the drill's scratch copy (made on first use, under the deployment lock)."""
        try:
            with locks.exclusive(self.state_dir, "drill_prepare", job_id):
                host = prepare_drill(self.host, self.state_dir, drill)
        except OpError as exc:
            outcome: JobOutcome = exc.kind if exc.kind in ("refused", "invalid") else "failed"  # type: ignore[assignment]
            return outcome, None, JobError(**exc.to_dict()), None
        stand_in = drill_result(call.spec.name, self.host, host)
        if stand_in is not None:
            on_start()
            return stand_in.outcome, stand_in.model_dump(mode="json"), None, None
        return run_call(call, host, sink, state_dir=drill_root(self.state_dir, drill), job_id=job_id, on_start=on_start)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        """Block until the job's thread ends (tests, graceful shutdown)."""
        with self._threads_lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.store.get(job_id)

    def running(self) -> list[str]:
        with self._threads_lock:
            return list(self._threads)

    def wait_all(self, timeout: float | None = None) -> None:
        for job_id in self.running():
            self.wait(job_id, timeout)

    def _execute(self, job_id: str, call: PreparedCall, common: dict[str, Any], drill: str | None = None) -> None:
        sink = _ProgressSink(self.store, job_id)
        started = False

        def on_start() -> None:
            nonlocal started
            started = True
            self.audit.write("started", **common)

        try:
            self.store.mark_running(job_id)
            if drill is None:
                outcome, result, error, tb = run_call(
                    call, self.host, sink, state_dir=self.state_dir, job_id=job_id, on_start=on_start
                )
            else:
                outcome, result, error, tb = self._run_drill(call, sink, drill, job_id, on_start)
            sink.close()
            asserted = getattr(call.args, "app_stopped_by", None)
            if asserted:  # an operator's word that the app is stopped: its own line, whatever came of it
                self.audit.write("app_stopped_asserted", **common, by=asserted, outcome=outcome, **stopped_note(result))
            self.store.finish(job_id, outcome, result, error)
            self.audit.write(
                "finished" if started or not is_busy(outcome, error) else "busy",
                **common,
                outcome=outcome,
                summary=(result or {}).get("summary"),
                result=result,  # the full model_dump, as stored on the job
                error=error.model_dump() if error else None,
                traceback=tb,
            )
        except Exception as exc:  # noqa: BLE001 - bookkeeping failed; still try to close the job
            err = JobError(kind="error", code=type(exc).__name__, message=f"agent bookkeeping failed: {exc}")
            try:
                self.store.finish(job_id, "error", None, err)
            finally:
                self.audit.write(
                    "finished",
                    **common,
                    outcome="error",
                    result=None,
                    error=err.model_dump(),
                    traceback=traceback.format_exc(),
                )
        finally:
            with self._threads_lock:
                self._threads.pop(job_id, None)
