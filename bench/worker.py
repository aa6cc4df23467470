"""Run one agent operation in a fresh process and print its time and peak RSS as JSON.

A fresh process per sample makes ``ru_maxrss`` the peak of that one operation. The time is taken
around the operation's call only (the agent is a long-running server: interpreter start-up and
imports are not part of what an operator waits for), and the result is checked against what the
cached deployment holds, so a fast wrong answer is a failure, not a win.

Usage: ``python -m bench.worker OP CACHE_ENTRY`` with OP one of :data:`OPS`.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.fixture import Manifest
from ops.backups import create_backup, restore_backup
from ops.host import Host
from ops.rollback import rollback as rollback_op
from ops.rollback import run_rollback_on
from ops.verify import verify
from sandbox.gofastcdn_fixture import make_host


def _rollback(host: Host, m: Manifest) -> str | None:
    res = rollback_op(host)
    if res.outcome != "ok" or res.action != "rollback":
        return f"rollback: {res.summary}"
    if (len(res.lost_rows), len(res.deletes_undone)) != (m.lost_rows, m.deletes_undone):
        got = f"{len(res.lost_rows)} lost / {len(res.deletes_undone)} undone"
        return f"rollback reported {got}, expected {m.lost_rows} / {m.deletes_undone}"
    return None


def _rollback_core(host: Host, m: Manifest) -> str | None:
    """The rollback transaction alone (plan + drop), as the dry run uses it: no backup, no baseline."""
    dep = host.deployment
    out = run_rollback_on(dep.db_path, dep, "hard")
    if out.after.media_present or out.after.marker.state == "live":
        return "rollback core left media or a live marker"
    if len(out.plan.lost_rows) != m.lost_rows:
        return f"rollback core reported {len(out.plan.lost_rows)} lost rows, expected {m.lost_rows}"
    return None


def _restore(host: Host, m: Manifest) -> str | None:
    res = restore_backup(host, m.pre_migration_backup)
    if res.outcome != "ok" or res.counts_after.images_live != m.images_live:
        return f"restore: {res.summary}"
    return None


def _backup(host: Host, m: Manifest) -> str | None:
    res = create_backup(host, label="bench")
    if res.outcome != "ok" or res.integrity != "ok" or res.source_counts.images_live != m.images_live:
        return f"backups create: {res.summary}"
    return None


def _verify(host: Host, m: Manifest) -> str | None:
    res = verify(host)
    if res.outcome != "ok":
        return f"verify: {res.summary}"
    return None


OPS: dict[str, Callable[[Host, Manifest], str | None]] = {
    "rollback": _rollback,
    "rollback_core": _rollback_core,
    "restore": _restore,
    "backups_create": _backup,
    "verify": _verify,
}


def main(argv: list[str]) -> int:
    op, entry = argv[0], Path(argv[1])
    manifest = Manifest.model_validate_json((entry / "manifest.json").read_text())
    host = make_host(entry / "dep")
    t0 = time.perf_counter()
    error = OPS[op](host, manifest)
    seconds = time.perf_counter() - t0
    print(json.dumps({"op": op, "seconds": seconds, "maxrss_kib": peak_rss_kib(), "error": error}))
    return 1 if error else 0


def peak_rss_kib() -> int:
    """This process's own peak RSS since exec (VmHWM). ``ru_maxrss`` would also count the parent's
    size at fork, which Linux carries across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
