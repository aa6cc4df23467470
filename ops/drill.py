"""Drills: the same operations on a scratch copy of the deployment, never the live DB or the live app.

A drill is named by an id the bot chooses (its incident id). The first job of a drill copies the
deployment into ``<state_dir>/drills/<id>/go-fast-cdn``: every file except the agent's own state,
and ``main.db`` through SQLite's online backup from a read-only connection, so the live file is
only read. The copy's app is a :class:`DrillController`: stop and start change a state file next to
the copy and never signal the live process. ``check_api`` would ask the live app about the live DB,
so in a drill it reports what it would call instead of calling it; the copy's API address points
nowhere (``NO_API``), and ``start_app`` marks the copy's app running without waiting for an API.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

from ops.deployment import Deployment
from ops.errors import OpInputError, OpRefused
from ops.host import Host
from ops.models import AppControlResult, AppState, CheckApiResult, OpResult
from ops.status import journal_blockers

DRILL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The simulated app has no API: port 0 never answers, so the "is its API up?" witness sees it down
# exactly when the drill's controller says stopped, and the live app's API is never asked.
NO_API = "http://127.0.0.1:0"
_SKIP = {".rollback-agent"}


class DrillController:
    """The scratch copy's "app": a state file; the live go-fast-cdn is never touched."""

    kind = "drill"

    def __init__(self, state_file: Path, live_kind: str) -> None:
        self.state_file = state_file
        self.live_kind = live_kind

    def _running(self) -> bool:
        try:
            return bool(json.loads(self.state_file.read_text())["running"])
        except (OSError, ValueError, KeyError):
            return False

    def _set(self, running: bool) -> None:
        self.state_file.write_text(json.dumps({"running": running}))

    def state(self) -> AppState:
        word = "running" if self._running() else "stopped"
        return AppState(running=self._running(), detail=f"DRILL: {word} (simulated; the live app is not touched)")

    def stop(self, timeout_s: float) -> AppState:
        self._set(False)
        return AppState(running=False, detail=f"DRILL: stopped (simulated; for real: the {self.live_kind} controller)")

    def start(self, timeout_s: float) -> AppState:
        self._set(True)
        return AppState(running=True, detail=f"DRILL: started (simulated; for real: the {self.live_kind} controller)")

    def logs(self, lines: int) -> list[str]:
        return ["DRILL: the live app's logs are not read during a drill"]


def drill_root(state_dir: Path, drill_id: str) -> Path:
    if not DRILL_ID.match(drill_id):
        raise OpInputError("bad_drill_id", f"drill id must match {DRILL_ID.pattern}")
    return state_dir / "drills" / drill_id


def _copy_db(live: Path, scratch: Path) -> None:
    """Online backup from a read-only connection: a consistent copy, and the live file is only read."""
    src = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
    dst = sqlite3.connect(scratch)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def prepare_drill(live: Host, state_dir: Path, drill_id: str) -> Host:
    """The drill's host: its scratch copy, created on first use (a drill keeps its own history)."""
    base = drill_root(state_dir, drill_id)
    root = base / "go-fast-cdn"
    controller = DrillController(base / "app-state.json", live.controller.kind)
    if not (base / "ready").exists():
        live_dep = live.deployment
        if blockers := journal_blockers(live_dep):
            names = ", ".join(p.name for p in blockers)
            raise OpRefused("journal_present", f"the live DB has {names} next to it; a drill copies only a clean DB")
        shutil.rmtree(base, ignore_errors=True)
        db_rel = live_dep.db_path.relative_to(live_dep.root)

        def ignore(folder: str, names: list[str]) -> set[str]:
            here = Path(folder)
            skipped = {n for n in names if n in _SKIP}
            if here == live_dep.db_path.parent:
                skipped |= {n for n in names if n.startswith(live_dep.db_path.name)}
            return skipped

        shutil.copytree(live_dep.root, root, ignore=ignore, symlinks=True)
        (root / db_rel).parent.mkdir(parents=True, exist_ok=True)
        _copy_db(live_dep.db_path, root / db_rel)
        controller._set(live.controller.state().running is not False)
        (base / "ready").write_text(drill_id)
    return Host(deployment=Deployment(root=root), controller=controller, api_url=NO_API)


def drill_result(operation: str, live: Host, drill: Host) -> OpResult | None:
    """What a drill reports instead of running an operation that would reach the live app.

    ``start_app`` would wait for the simulated app's API, which does not exist: the copy's app is
    marked running instead. ``check_api`` would compare the live API with the copy's DB.
    """
    if operation == "start_app":
        before = drill.controller.state()
        after = drill.controller.start(0)
        return AppControlResult(
            operation="start_app",
            action="start",
            controller=drill.controller.kind,
            outcome="noop" if before.running else "ok",
            summary=after.detail,
            before=before,
            after=after,
        )
    if operation == "check_api":
        return CheckApiResult(
            operation="check_api",
            outcome="noop",
            summary=f"DRILL: not calling the live app at {live.api_url}; in a real incident this checks its API",
            api_url=live.api_url,
        )
    return None


def discard_drill(state_dir: Path, drill_id: str) -> bool:
    base = drill_root(state_dir, drill_id)
    existed = base.exists()
    shutil.rmtree(base, ignore_errors=True)
    return existed
