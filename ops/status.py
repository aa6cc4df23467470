"""What state a deployment is in right now (read-only), plus the guards the writing ops share."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pydantic import Field

from ops.control.base import AppState
from ops.deployment import Deployment
from ops.errors import OpRefused
from ops.host import Host
from ops.results import OpResult, utcnow
from ops.schema import Counts, IndexInfo, MarkerInfo, SchemaEra, inspect_file


class StatusResult(OpResult):
    operation: str = "status"
    app_running: bool | None
    app_detail: str
    db_path: str
    db_exists: bool
    db_size: int | None = None
    journal_files: list[str] = Field(default_factory=list)
    tables: list[str] = Field(default_factory=list)
    indexes: list[IndexInfo] = Field(default_factory=list)
    schema_era: SchemaEra | None = None
    media_schema: str | None = None
    migration_records_present: bool = False
    marker: MarkerInfo | None = None
    counts: Counts = Field(default_factory=Counts)
    error: str | None = None


def journal_files(dep: Deployment) -> list[Path]:
    """main.db-journal / -wal / -shm present next to the DB (go-fast-cdn uses DELETE mode, so any of
    them means a writer is active or died mid-transaction)."""
    return [p for p in (dep.journal_path, dep.wal_path, dep.shm_path) if p.exists()]


def app_state(host: Host) -> AppState:
    try:
        return host.controller.state()
    except Exception as exc:  # a broken controller means "unknown", never "stopped"
        return AppState(running=None, detail=f"state check failed: {exc}")


def require_stopped(host: Host, action: str) -> AppState:
    """Refuse unless the controller proves the app is stopped (``running`` None counts as running)."""
    st = app_state(host)
    if st.running is True:
        raise OpRefused(
            "app_running", f"refusing to {action}: go-fast-cdn is running ({st.detail}); stop it first"
        )
    if st.running is None:
        raise OpRefused(
            "app_state_unknown",
            f"refusing to {action}: cannot prove go-fast-cdn is stopped ({st.detail}); stop it and retry",
        )
    return st


def require_no_journal(dep: Deployment, action: str) -> None:
    present = journal_files(dep)
    if present:
        names = ", ".join(p.name for p in present)
        raise OpRefused(
            "journal_present",
            f"refusing to {action}: {names} next to the DB (a writer is active or crashed mid-transaction); "
            "start and stop go-fast-cdn cleanly, or inspect the file by hand",
        )


def status(host: Host) -> StatusResult:
    """Report app state, files and schema era without writing anything (DB opened with mode=ro)."""
    started = utcnow()
    dep = host.deployment
    st = app_state(host)
    jf = [p.name for p in journal_files(dep)]
    res = StatusResult(
        outcome="ok",
        summary="",
        started_at=started,
        app_running=st.running,
        app_detail=st.detail,
        db_path=str(dep.db_path),
        db_exists=dep.db_path.is_file(),
        journal_files=jf,
    )
    if jf:
        res.warnings.append(f"{', '.join(jf)} present next to the DB")
    app_txt = {True: "running", False: "stopped", None: "state unknown"}[st.running]
    if not res.db_exists:
        res.outcome = "failed"
        res.error = "database file missing"
        res.summary = f"app {app_txt}; no database at {dep.db_path}"
        res.finished_at = utcnow()
        return res
    res.db_size = dep.db_path.stat().st_size
    try:
        info = inspect_file(dep.db_path)
    except sqlite3.Error as exc:
        res.outcome = "failed"
        res.error = f"cannot read database: {exc}"
        res.summary = f"app {app_txt}; database unreadable: {exc}"
        res.finished_at = utcnow()
        return res
    res.tables, res.indexes, res.schema_era = info.tables, info.indexes, info.era
    res.media_schema, res.marker, res.counts = info.media_schema, info.marker, info.counts
    res.migration_records_present = info.migration_records_present
    c = info.counts
    media_txt = "no media" if c.media_raw is None else f"media {c.media_live} live/{c.media_raw} raw"
    res.summary = (
        f"app {app_txt}; era {info.era}; marker {info.marker.state}; images {c.images_live}/{c.images_raw}, "
        f"docs {c.docs_live}/{c.docs_raw} (live/raw); {media_txt}"
        + (f"; {', '.join(jf)} present" if jf else "")
    )
    res.finished_at = utcnow()
    return res
