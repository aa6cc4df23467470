"""A teammate's forgotten ``sqlite3 main.db`` shell: a child process that holds the DB open.

Exactly what must block a rollback. Run ``python -m sandbox.db_holder DB`` (prints ``holding`` once
the file is open, then sleeps until killed), or use ``hold_open`` as a context manager in tests.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    conn = sqlite3.connect(argv[0])
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()  # the file is open from here on
    print("holding", flush=True)
    while True:
        time.sleep(3600)


@contextmanager
def hold_open(db: Path, timeout_s: float = 20.0) -> Iterator[subprocess.Popen[str]]:
    """Start the holder, wait until it has the file open, kill it on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.db_holder", str(db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = proc.stdout.readline()
        if line.strip() != "holding" or time.monotonic() > deadline:
            raise RuntimeError(f"db holder did not start (said {line!r})")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
