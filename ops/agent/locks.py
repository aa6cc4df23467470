"""One state-changing operation at a time per deployment, across threads and processes.

An ``flock`` on ``<state-dir>/ops.lock`` is shared by the agent's job threads and local CLI runs, so
a ``rollback-agent restore`` typed on the host cannot overlap an agent's rollback. The kernel drops
the lock when its holder dies, so a crash never leaves the deployment locked. A busy lock is a
refusal (nothing run), not a queue: an operation should never start later than its requester expects.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops.errors import OpRefused


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    what = info.get("operation", "?")
    job = f" job {info['job_id']}" if info.get("job_id") else ""
    return f"{what}{job} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"


@contextmanager
def exclusive(state_dir: Path, operation: str, job_id: str | None = None) -> Iterator[None]:
    """Hold the deployment's operation lock or raise ``OpRefused("busy")`` at once."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "ops.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OpRefused(
                "busy", f"another state-changing operation is running: {_holder(path)}; try again after it"
            ) from None
        info = {
            "operation": operation,
            "job_id": job_id,
            "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def single_agent(state_dir: Path) -> Iterator[None]:
    """At most one agent per state dir: a second one would mark the first one's jobs interrupted."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another rollback-agent is already serving {state_dir}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
