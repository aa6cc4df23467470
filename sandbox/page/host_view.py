"""What the page's host panel shows: is go-fast-cdn up, which era is main.db in, how many rows.

Reads go through an immutable read-only connection, so watching the host never takes a lock,
replays a journal or otherwise changes what the agent will find.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from pydantic import BaseModel, Field

from ops.control import make_controller
from sandbox.gofastcdn_fixture import MARKER
from sandbox.page.host_faults import HOST_FAULTS, TOGGLES, HostFaults
from sandbox.sandbox_host import SandboxHost


class FaultButton(BaseModel):
    kind: str
    label: str
    toggle: bool
    on: bool


class HostPanel(BaseModel):
    environment: str
    app: str  # "running", "stopped" or "unknown"
    app_detail: str
    app_url: str
    agent_url: str
    era: str
    counts: dict[str, int] = Field(default_factory=dict)
    db_error: str | None = None
    db_sha256: str = ""
    side_files: list[str] = Field(default_factory=list)
    faults: list[FaultButton] = Field(default_factory=list)
    last_fault: str = ""


def db_era(conn: sqlite3.Connection) -> tuple[str, dict[str, int]]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts: dict[str, int] = {}
    for table in ("images", "docs"):
        if table in tables:
            counts[table] = int(conn.execute(f"SELECT count(*) FROM {table} WHERE deleted_at IS NULL").fetchone()[0])
    if "media" in tables:
        counts["media"] = int(conn.execute("SELECT count(*) FROM media").fetchone()[0])
    if "migration_records" not in tables:
        return "pre-migration", counts
    live = conn.execute(
        "SELECT count(*) FROM migration_records WHERE name = ? AND deleted_at IS NULL", (MARKER,)
    ).fetchone()[0]
    if "media" in tables:
        return ("migrated" if live else "media table without marker"), counts
    return ("rolled back" if not live else "marker without media table"), counts


def host_panel(environment: str, host: SandboxHost, faults: HostFaults) -> HostPanel:
    state = make_controller(host.controller_config, host.api_url).state()
    app = {True: "running", False: "stopped"}.get(state.running, "unknown")  # type: ignore[arg-type]
    db = faults.dep.db_path
    counts: dict[str, int] = {}
    era, error, digest = "missing", None, ""
    if db.exists():
        data = db.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
            try:
                era, counts = db_era(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            era, error = "unreadable", str(exc)
    active = faults.active()
    return HostPanel(
        environment=environment,
        app=app,
        app_detail=state.detail,
        app_url=host.api_url,
        agent_url=host.url,
        era=era,
        counts=counts,
        db_error=error,
        db_sha256=digest,
        side_files=sorted(p.name for p in Path(db.parent).glob(db.name + "-*")),
        faults=[FaultButton(kind=k, label=v, toggle=k in TOGGLES, on=active[k]) for k, v in HOST_FAULTS.items()],
        last_fault=faults.last_note,
    )
