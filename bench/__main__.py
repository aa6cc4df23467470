"""``make bench``: every timing goal as a ratio against a baseline measured in the same run.

Only 127.0.0.1 is used; the whole run is capped by a time budget (default 100 s) and a watchdog
that ends the process if something hangs, so it always stops by itself in under two minutes.
Exit status is 1 only when an operation *failed* (a bug); slowness never fails the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from bench import db_ops, record, slack_ack
from bench.report import Budget, Row, table

WATCHDOG_S = 115.0


def _watchdog(seconds: float) -> threading.Timer:
    def fire() -> None:
        sys.stderr.write(f"bench: still running after {seconds:.0f} s, giving up\n")
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="3 iterations, 1k images + 1k docs (smoke run)")
    ap.add_argument("--only", choices=("slack", "db", "record"), help="run one group")
    ap.add_argument("--iterations", type=int, help="timed samples per goal (default 30 Slack, 5 DB)")
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--budget", type=float, default=100.0, help="seconds for the whole run (soft)")
    args = ap.parse_args(argv)
    timer = _watchdog(max(args.budget + 15.0, 10.0) if args.budget < WATCHDOG_S - 15 else WATCHDOG_S)
    started = time.monotonic()
    budget = Budget(args.budget)
    images, docs = (1000, 1000) if args.quick else (args.images, args.docs)
    slack_n = args.iterations or (3 if args.quick else 30)
    db_n = args.iterations or (3 if args.quick else 5)
    rows: list[Row] = []
    try:
        if args.only in (None, "slack"):
            rows += slack_ack.run(iterations=slack_n, budget=budget.share(0.3 if args.only is None else 1.0))
        if args.only in (None, "record"):
            sizes = (100, 200, 400, 800) if args.quick else record.SIZES
            rows += record.run(iterations=db_n, sizes=sizes, budget=budget.share(0.3 if args.only is None else 1.0))
        if args.only in (None, "db"):
            rows += db_ops.run(images=images, docs=docs, iterations=db_n, budget=budget.share(1.0))
    finally:
        timer.cancel()
    print(table(rows))
    print(f"\nratio = measured / baseline (same run, same machine); total {time.monotonic() - started:.1f} s")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
