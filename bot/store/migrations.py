"""The bot store's schema, as an ordered list of migrations; ``PRAGMA user_version`` says how far a file is.

Opening a store runs every migration newer than the file, each in its own transaction together with
the version bump, so a crash mid-upgrade leaves the file at the last complete version and the next
start continues from there. Before the first migration touches a file that already holds data, a
copy is kept next to it (``<store>.v<N>.bak``): an upgrade never costs an incident.

A file written by a newer release (``user_version`` above the newest migration here) is refused,
untouched, rather than half-understood.

To add a table or a column: append a ``Migration`` with the next number; never edit one that has
shipped. Use sqlite-utils (``db[table].create(...)``, ``.add_column(...)``, ``.transform(...)``) so a
change to an existing table keeps its rows. Add JSON columns to ``JSON_COLUMNS`` in
``bot/store/database.py``. ``tests/unit/bot/store/test_migrations.py`` opens a store written by an
older release (``tests/fixtures/store_*.db``) with the new code.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)


class StoreVersionError(RuntimeError):
    """The store file was written by a newer release of the bot; it is left untouched."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


# --- 1: the schema of the first release (a file from before versioning has it at user_version 0) ---
_V1_TABLES: dict[str, dict[str, Any]] = {
    "counters": {"columns": {"name": str, "value": int}, "pk": "name"},
    "incidents": {
        "columns": {
            "id": str,
            "seq": int,
            "environment": str,
            "severity": str,
            "target_minutes": int,
            "summary": str,
            "channel": str,
            "thread_ts": str,
            "state": str,
            "opened_by": str,
            "opened_at": str,
            "closed_at": str,
            "closed_by": str,
            "chosen_option": int,
            "chosen_backup": str,
            "resolution": str,
        },
        "pk": "id",
        "not_null": {"environment", "severity", "state", "opened_at"},
    },
    "section_messages": {
        "columns": {"incident_id": str, "section_id": str, "ts": str},
        "pk": ("incident_id", "section_id"),
    },
    "steps": {
        "columns": {
            "incident_id": str,
            "step_id": str,
            "state": str,
            "actor": str,
            "at": str,
            "note": str,
            "job_id": str,
        },
        "pk": ("incident_id", "step_id"),
        "not_null": {"state"},
    },
    "events": {
        "columns": {
            "id": int,
            "incident_id": str,
            "at": str,
            "actor": str,
            "kind": str,
            "step_id": str,
            "data": str,
        },
        "pk": "id",
        "not_null": {"incident_id", "kind", "at"},
    },
    "pages": {
        "columns": {
            "id": int,
            "incident_id": str,
            "user_id": str,
            "role": str,
            "paged_at": str,
            "via": str,
            "acked_by": str,
            "acked_at": str,
        },
        "pk": "id",
    },
    "agent_jobs": {
        "columns": {
            "request_id": str,
            "incident_id": str,
            "step_id": str,
            "operation": str,
            "args": str,
            "state": str,
            "outcome": str,
            "result": str,
            "error": str,
            "started_by": str,
            "started_at": str,
            "finished_at": str,
            "display_ref": str,
        },
        "pk": "request_id",
        "not_null": {"state"},
    },
}

_V1_INDEXES = (
    # The guard: at most one open incident per environment, whatever the application code does.
    "CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_open_per_env ON incidents(environment) WHERE state = 'open'",
    "CREATE INDEX IF NOT EXISTS incidents_thread ON incidents(channel, thread_ts)",
    "CREATE INDEX IF NOT EXISTS events_incident ON events(incident_id, id)",
    "CREATE INDEX IF NOT EXISTS agent_jobs_state ON agent_jobs(state)",
    "CREATE INDEX IF NOT EXISTS agent_jobs_incident ON agent_jobs(incident_id)",
    "CREATE INDEX IF NOT EXISTS pages_incident ON pages(incident_id)",
)


def _v1_initial(db: sqlite_utils.Database) -> None:
    # if_not_exists: a store written before the schema had a version already has these tables.
    for name, spec in _V1_TABLES.items():
        db.table(name).create(spec["columns"], pk=spec["pk"], not_null=spec.get("not_null"), if_not_exists=True)
    for sql in _V1_INDEXES:
        db.execute(sql)


def _v2_drills(db: sqlite_utils.Database) -> None:
    # A drill rehearses on a scratch copy; existing incidents were all real.
    db["incidents"].add_column("drill", int, not_null_default=0)  # type: ignore[union-attr]
    # One open real incident and one open drill per environment: a drill never blocks the real thing.
    db.execute("DROP INDEX IF EXISTS incidents_one_open_per_env")
    db.execute("CREATE UNIQUE INDEX incidents_one_open_per_env ON incidents(environment, drill) WHERE state = 'open'")


# --- 3: paging (pages get a unique key, round, DM and state; role acks) and persistent timers ---
_V3_PAGE_COLUMNS: dict[str, Any] = {
    "page_key": str,
    "round": int,
    "state": str,
    "dm_channel": str,
    "dm_ts": str,
    "error": str,
}


def _v3_paging_and_timers(db: sqlite_utils.Database) -> None:
    pages = db.table("pages")
    for column, kind in _V3_PAGE_COLUMNS.items():
        if column not in pages.columns_dict:
            pages.add_column(column, kind)
    # Rows from before keys existed keep their data and get a key of their own.
    db.execute(
        "UPDATE pages SET page_key = incident_id || '|' || COALESCE(role, '') || '|' || user_id || '|legacy-' || id, "
        "round = COALESCE(round, 0), state = COALESCE(state, 'sent') WHERE page_key IS NULL"
    )
    # A page is one row with a unique key, inserted before the DM is sent: never paged twice.
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS pages_key ON pages(page_key)")
    # One row per incident and role once somebody acknowledged it: of two concurrent clicks one wins.
    db.table("role_acks").create(
        {
            "incident_id": str,
            "role": str,
            "acked_by": str,
            "acked_at": str,
            "via": str,
            "seconds_to_ack": float,
        },
        pk=("incident_id", "role"),
        not_null={"acked_by", "acked_at"},
        if_not_exists=True,
    )
    # Persistent timers (bot/timers.py): APScheduler jobs are re-armed from here at start.
    db.table("timers").create(
        {
            "key": str,
            "kind": str,
            "incident_id": str,
            "due_at": str,
            "due_epoch": float,
            "payload": str,
            "state": str,
            "created_at": str,
            "fired_at": str,
        },
        pk="key",
        not_null={"kind", "due_epoch", "state"},
        if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS timers_pending ON timers(state, due_epoch)")
    db.execute("CREATE INDEX IF NOT EXISTS timers_incident ON timers(incident_id, state)")


# --- 4: the Slack messages each incident should have, so a reconciler can post what is missing ---
def _v4_messages(db: sqlite_utils.Database) -> None:
    """One row per message the thread should carry; ``ts`` is NULL until Slack has it.

    ``attempted_at`` is written (committed) before a post is sent: a row with it set and no ``ts`` is
    "in doubt" (the bot died or the call timed out after sending), and is looked up in Slack before
    it is posted again. ``shown_hash`` is the hash of the last rendering Slack accepted, so a
    re-render that would change nothing costs no API call. The v1 ``section_messages`` rows and
    ``agent_jobs.display_ref`` are copied in and left as they were (no data is dropped).
    """
    db.table("messages").create(
        {
            "incident_id": str,
            "key": str,
            "kind": str,
            "seq": int,
            "body": str,
            "ts": str,
            "attempted_at": str,
            "shown_hash": str,
            "created_at": str,
        },
        pk=("incident_id", "key"),
        not_null={"incident_id", "key", "kind", "seq"},
    )
    db.execute("CREATE INDEX messages_unposted ON messages(ts) WHERE ts IS NULL")
    db.execute(
        "INSERT INTO messages(incident_id, key, kind, seq, ts, created_at) "
        "SELECT id, 'parent', 'parent', 0, thread_ts, opened_at FROM incidents WHERE thread_ts IS NOT NULL"
    )
    db.execute(
        "INSERT INTO messages(incident_id, key, kind, seq, ts) "
        "SELECT incident_id, 'section:' || section_id, 'section', rowid, ts FROM section_messages"
    )
    db.execute(
        "INSERT INTO messages(incident_id, key, kind, seq, ts, created_at) "
        "SELECT incident_id, 'job:' || request_id, 'job', 1000000 + rowid, display_ref, started_at "
        "FROM agent_jobs WHERE display_ref IS NOT NULL"
    )


# --- 5: incident records (every version kept) and follow-up tasks (owner, due date, reminder) ---
def _v5_records_follow_ups(db: sqlite_utils.Database) -> None:
    db.table("records").create(
        {
            "incident_id": str,
            "version": int,
            "kind": str,
            "markdown": str,
            "json": str,
            "created_at": str,
            "created_by": str,
            "file_id": str,
            "file_ref": str,
        },
        pk=("incident_id", "version"),
        not_null={"kind", "markdown", "json", "created_at"},
    )
    db.table("follow_ups").create(
        {
            "incident_id": str,
            "step_id": str,
            "title": str,
            "owner": str,
            "due_at": str,
            "assigned_by": str,
            "assigned_at": str,
            "assignment": int,
            "timer_key": str,
            "state": str,
            "done_by": str,
            "done_at": str,
            "reminded_at": str,
        },
        pk=("incident_id", "step_id"),
        not_null={"owner", "due_at", "state", "timer_key"},
    )
    # Thread events are looked up by kind when Slack redelivers them (bot/record/thread_log.py).
    db.execute("CREATE INDEX IF NOT EXISTS events_incident_kind ON events(incident_id, kind)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "incidents, steps, section messages, events, agent jobs, pages, counters", _v1_initial),
    Migration(2, "incidents.drill: rehearsals on a scratch copy, kept apart from real incidents", _v2_drills),
    Migration(3, "paging: page keys, rounds and DMs, role acks; persistent timers", _v3_paging_and_timers),
    Migration(4, "messages: the Slack messages each incident should have, posted or not", _v4_messages),
    Migration(5, "incident records (versions) and follow-up tasks", _v5_records_follow_ups),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone() is not None


def _keep_copy(conn: sqlite3.Connection, path: str, version: int) -> str:
    target = f"{path}.v{version}.bak"
    with sqlite3.connect(target) as copy:
        conn.backup(copy)
    copy.close()
    return target


def migrate(db: sqlite_utils.Database, path: str = ":memory:", migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the open store up to the newest migration; returns the version it is at now."""
    conn = db.conn
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... in order, got {versions}")
    latest = versions[-1] if versions else 0
    found = schema_version(conn)
    if found > latest:
        raise StoreVersionError(
            f"{path}: store schema version {found} is newer than this release understands ({latest}); "
            "run the newer release, or restore a backup of the store"
        )
    if found == latest:
        return found
    if path != ":memory:" and _has_tables(conn):
        log.info("store %s: kept a copy at %s before upgrading", path, _keep_copy(conn, path, found))
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have upgraded the file meanwhile.
            current = schema_version(conn)
            if migration.version <= current:
                conn.execute("ROLLBACK")
                continue
            migration.apply(db)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        log.info("store %s: upgraded to schema %d (%s)", path, migration.version, migration.description)
    return schema_version(conn)


__all__ = ["LATEST", "MIGRATIONS", "Migration", "StoreVersionError", "migrate", "schema_version"]
