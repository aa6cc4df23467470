"""``make bench``: every timing goal as a ratio against a baseline measured in the same run.

``--size`` picks the deployment (``small`` by default; ``2m`` is 1M images + 1M docs migrated into
2M media rows, built once and cached). Only 127.0.0.1 is used; the run has a soft time budget per
size and a watchdog that ends the process if something hangs. Every goal line says PASS or FAIL;
the exit status is 1 only when an operation *failed* (a bug), never for slowness.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from bench import ack_load, db_ops, fixture, record, slack_ack
from bench.report import Budget, Row, table

WATCHDOG_MARGIN_S = 120.0
BUDGET_S = {"tiny": 60.0, "small": 150.0, "200k": 400.0, "2m": 1500.0}
ACK_LOAD_TOTAL = {"small": 2000, "200k": 2000, "2m": 2000}  # requests at 50 connections, per round
DB_ITERATIONS = {"tiny": 3, "small": 5, "200k": 3, "2m": 3}


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
    ap.add_argument("--size", choices=sorted(fixture.SIZES), default="small", help="deployment size (default small)")
    ap.add_argument("--quick", action="store_true", help="tiny deployment, 3 iterations (smoke run)")
    ap.add_argument("--only", choices=("slack", "load", "db", "record"), help="run one group")
    ap.add_argument("--iterations", type=int, help="timed samples per goal (default 30 Slack, DB by size)")
    ap.add_argument("--budget", type=float, help="seconds for the whole run (soft; default by size)")
    args = ap.parse_args(argv)
    size = "tiny" if args.quick else args.size
    budget_s = args.budget if args.budget is not None else BUDGET_S[size]
    timer = _watchdog(budget_s + WATCHDOG_MARGIN_S)
    started = time.monotonic()
    budget = Budget(budget_s)
    slack_n = args.iterations or (3 if args.quick else 30)
    db_n = args.iterations or DB_ITERATIONS[size]
    rows: list[Row] = []
    try:
        if args.only in (None, "db"):
            rows += db_ops.run(size=size, iterations=db_n, budget=budget.share(0.8 if args.only is None else 1.0))
        if args.only in (None, "slack"):
            rows += slack_ack.run(iterations=slack_n, budget=budget.share(0.3 if args.only is None else 1.0))
        if args.only in (None, "load") and size != "tiny":
            rows += ack_load.rows(total=ACK_LOAD_TOTAL[size], concurrency=50)
        if args.only in (None, "record"):
            sizes = (100, 200, 400, 800) if size == "tiny" else record.SIZES
            rows += record.run(iterations=db_n, sizes=sizes, budget=budget.share(1.0))
    finally:
        timer.cancel()
    print(f"\n## make bench SIZE={size}\n")
    print(table(rows))
    verdicts = [r.verdict for r in rows]
    print(
        f"\nratio = measured / baseline, both from this run; {verdicts.count('PASS')} PASS, "
        f"{verdicts.count('FAIL')} FAIL; total {time.monotonic() - started:.0f} s"
    )
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
