"""SQLite persistence for the bot (sqlite-utils over one WAL-mode connection).

Why it looks like this:
- One connection shared by all threads behind an RLock: Bolt handlers, the executor and the
  scheduler all write, and serialising them in-process is simpler than per-thread connections.
  ``BEGIN IMMEDIATE`` (with a busy timeout) serialises writers across processes too.
- Every state change is a conditional ``UPDATE ... WHERE state IS ?`` via :meth:`Store.cond_update`,
  which reports whether the row changed, so a double click or a retried request acts once.
- A partial unique index allows only one open incident per environment, even if two openers race.
- Rows go in and out as plain dicts; bot/incidents.py turns them into models.
- Opening a file upgrades it in place to the newest schema (bot/store/migrations.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.store.migrations import migrate

JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("data",),
    "timers": ("payload",),
    "agent_jobs": ("args", "result", "error"),
    "messages": ("body",),
}


def _encode(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in JSON_COLUMNS.get(table, ()):
        if col in out and out[col] is not None and not isinstance(out[col], str):
            out[col] = json.dumps(out[col], sort_keys=True, default=str)
    return out


def _decode(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in JSON_COLUMNS.get(table, ()):
        if isinstance(out.get(col), str):
            out[col] = json.loads(out[col])
    return out


def _as_dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


class Store:
    """The bot's SQLite file. Safe to share between threads; reopening the file continues it."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_timeout_s)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the writers' lock: registering must not wait for them
        with self._lock:
            try:  # upgrade first: a file from a newer release must be refused before anything writes to it
                self.schema_version = migrate(self.db, self.path)
            except BaseException:
                conn.close()
                raise
            if self.path != ":memory:":
                self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        with self._lock, self._readers_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
            self.db.close()

    # -- transactions -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and a write transaction; nested calls become savepoints. Rolls back on error."""
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                with self.db.atomic():
                    yield self.db
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and one read transaction: every query inside sees the same state of the file."""
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:  # inside a write: already consistent
                yield self.db
                return
            conn.execute("BEGIN")
            try:
                yield self.db
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def query_committed(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """A read of what is committed, on this thread's own read-only connection, without the lock.

        For peeks that must not queue behind the writers sharing the main connection (an ack that
        only needs to know whether an incident is open). WAL lets it read while they write; a
        decision that matters is re-checked inside the writer's transaction.
        """
        if self.path == ":memory:":  # no second connection can see a memory database
            return self.query(sql, params)
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            uri = Path(self.path).absolute().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._readers.conn = conn
            with self._readers_lock:
                self._reader_conns.append(conn)
        return _as_dicts(conn.execute(sql, params))

    # -- generic row access -----------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return _as_dicts(self.db.conn.execute(sql, params))

    def rows(
        self, table: str, where: str = "1=1", params: Any = (), order_by: str | None = None
    ) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM [{table}] WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        return [_decode(table, r) for r in self.query(sql, params)]

    def row(self, table: str, where: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(table, where, params)
        return found[0] if found else None

    def insert(self, table: str, row: Mapping[str, Any]) -> int | None:
        """Insert one row (JSON columns encoded); returns the rowid. Raises sqlite3.IntegrityError."""
        with self.transaction():
            t = self.db.table(table)
            t.insert(_encode(table, row))
            return t.last_rowid

    def cond_update(
        self,
        table: str,
        key: Mapping[str, Any],
        changes: Mapping[str, Any],
        expect: Mapping[str, Any | tuple[Any, ...]] | None = None,
    ) -> bool:
        """``UPDATE table SET changes WHERE key AND expect``; True only if a row actually changed.

        ``expect`` values are compared with ``IS`` (so None matches NULL); a tuple means "one of".
        """
        sets = ", ".join(f"[{c}] = ?" for c in changes)
        conds: list[str] = []
        params: list[Any] = list(_encode(table, changes).values())
        for col, val in key.items():
            conds.append(f"[{col}] = ?")
            params.append(val)
        for col, val in (expect or {}).items():
            if isinstance(val, tuple):
                conds.append(f"[{col}] IN ({', '.join('?' for _ in val)})")
                params.extend(val)
            else:
                conds.append(f"[{col}] IS ?")
                params.append(val)
        sql = f"UPDATE [{table}] SET {sets} WHERE {' AND '.join(conds)}"
        with self.transaction():
            return self.db.execute(sql, params).rowcount > 0

    def next_value(self, counter: str) -> int:
        """Increment and return a named counter (inside the caller's transaction if any)."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO counters(name, value) VALUES (?, 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                [counter],
            )
            value = cur.fetchone()[0]
            return int(value)

    # -- table helpers used by the service --------------------------------------------------------

    def insert_steps(self, incident_id: str, step_ids: list[str], state: str = "pending") -> None:
        with self.transaction():
            self.db.conn.executemany(
                "INSERT INTO steps(incident_id, step_id, state) VALUES (?, ?, ?)",
                [(incident_id, sid, state) for sid in step_ids],
            )
