"""Which messages an incident's Slack thread should have, and how far each has got.

The thread converges on this record: whatever posts or edits messages (the Slack edge) asks the
plan what is missing or in doubt, and records each step of a post here *before* trusting it:

1. ``begin_post``  -- committed before the message is sent. A row with ``attempted_at`` and no
   ``ts`` is *in doubt*: the process died or the call timed out after sending. It must be looked
   up in the thread before it is posted again, so a retry never posts twice.
2. ``posted``      -- the ``ts`` Slack returned (or that a lookup found).
3. ``shown``       -- the hash of the rendering Slack accepted; a re-render with the same hash is
   skipped, so reconciling an unchanged thread costs no API call.

Keys name a message's role, never its content: ``parent``, ``section:<id>``, ``job:<request id>``,
``offer:<request id>``, ``note:<n>``. Rows are posted in ``seq`` order (the parent first). Nothing
here knows about Slack: ``ts`` is an opaque string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from bot.domain import Incident
from bot.runbook import Runbook
from bot.store import Store
from ops.models import utcnow

MessageKind = Literal["parent", "section", "job", "offer", "note"]
PARENT_KEY = "parent"
# Rows that are not part of the runbook's fixed layout come after it, in the order they were wanted.
_LATE_SEQ_BASE = 1000


def section_key(section_id: str) -> str:
    return f"section:{section_id}"


def job_key(request_id: str) -> str:
    return f"job:{request_id}"


def offer_key(request_id: str) -> str:
    return f"offer:{request_id}"


class ThreadMessage(BaseModel):
    """One message an incident's thread should carry."""

    incident_id: str
    key: str
    kind: MessageKind
    seq: int
    body: dict[str, Any] | None = None
    ts: str | None = None
    attempted_at: datetime | None = None
    shown_hash: str | None = None
    created_at: datetime | None = None

    @property
    def in_doubt(self) -> bool:
        """Sent at least once without a recorded ts: look it up before posting again."""
        return self.ts is None and self.attempted_at is not None

    @property
    def ref(self) -> str:
        """The part after ``<kind>:`` (section id, request id), or the key itself."""
        return self.key.split(":", 1)[1] if ":" in self.key else self.key


class ThreadPlan:
    """The ``messages`` table: what each incident's thread should have, and what Slack has."""

    def __init__(self, store: Store, runbook: Runbook, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.runbook = runbook
        self.clock = clock

    # -- what the thread should have ----------------------------------------------------------------
    def plan_incident(self, incident_id: str) -> None:
        """The runbook's layout: the parent, then one message per section (existing rows are kept)."""
        keys = [(PARENT_KEY, "parent")] + [(section_key(s.id), "section") for s in self.runbook.sections]
        now = self.clock().isoformat()
        with self.store.transaction():
            self.store.db.conn.executemany(
                "INSERT OR IGNORE INTO messages(incident_id, key, kind, seq, created_at) VALUES (?, ?, ?, ?, ?)",
                [(incident_id, key, kind, seq, now) for seq, (key, kind) in enumerate(keys)],
            )

    def want(self, incident_id: str, key: str, kind: MessageKind, body: dict[str, Any] | None = None) -> bool:
        """Add a message the thread should carry; False if the key is already planned."""
        with self.store.transaction():  # no read first: asked on every job event, it must stay cheap
            seq = _LATE_SEQ_BASE + self.store.next_value("message")
            encoded = json.dumps(body, sort_keys=True, default=str) if body is not None else None
            cur = self.store.db.execute(
                "INSERT OR IGNORE INTO messages(incident_id, key, kind, seq, body, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [incident_id, key, kind, seq, encoded, self.clock().isoformat()],
            )
            return cur.rowcount > 0

    def want_note(self, incident_id: str, body: dict[str, Any]) -> str:
        """A one-off reply built once (``{"text"}``, optionally ``"blocks"``); returns its key."""
        with self.store.transaction():
            key = f"note:{self.store.next_value('note')}"
            self.want(incident_id, key, "note", body)
        return key

    # -- reading ------------------------------------------------------------------------------------
    def get(self, incident_id: str, key: str) -> ThreadMessage | None:
        row = self.store.row("messages", "incident_id = ? AND key = ?", [incident_id, key])
        return ThreadMessage.model_validate(row) if row else None

    def messages(self, incident_id: str) -> list[ThreadMessage]:
        rows = self.store.rows("messages", "incident_id = ?", [incident_id], order_by="seq, key")
        return [ThreadMessage.model_validate(r) for r in rows]

    def ts_of(self, incident_id: str, key: str) -> str | None:
        row = self.get(incident_id, key)
        return row.ts if row else None

    def unposted(self, incident_id: str) -> list[ThreadMessage]:
        """Rows without a ts, parent first then in the order they were wanted."""
        rows = self.store.rows("messages", "incident_id = ? AND ts IS NULL", [incident_id], order_by="seq, key")
        return [ThreadMessage.model_validate(r) for r in rows]

    def incidents_to_converge(self, incidents: list[Incident]) -> list[str]:
        """Of these incidents, the ones whose thread may be behind: open ones, and closed ones that
        have a thread (a cancel re-renders the parent; closing notes may be unposted)."""
        return [i.id for i in incidents if i.is_open or i.thread_ts is not None]

    # -- recording progress -------------------------------------------------------------------------
    def begin_post(self, incident_id: str, key: str) -> None:
        """Committed before the message is sent: from now on a missing ts means "look it up first"."""
        self.store.cond_update(
            "messages", {"incident_id": incident_id, "key": key}, {"attempted_at": self.clock().isoformat()}
        )

    def not_posted(self, incident_id: str, key: str) -> None:
        """Slack answered that the post did not happen (an error reply, 429): no lookup needed."""
        self.store.cond_update(
            "messages", {"incident_id": incident_id, "key": key}, {"attempted_at": None}, {"ts": None}
        )

    def posted(self, incident_id: str, key: str, ts: str, shown_hash: str | None = None) -> bool:
        """Record the ts (first write wins). The parent's ts is also the incident's thread."""
        with self.store.transaction():
            changed = self.store.cond_update(
                "messages", {"incident_id": incident_id, "key": key}, {"ts": ts, "shown_hash": shown_hash}, {"ts": None}
            )
            if changed and key == PARENT_KEY:
                self.store.cond_update("incidents", {"id": incident_id}, {"thread_ts": ts}, {"thread_ts": None})
        return changed

    def shown(self, incident_id: str, key: str, shown_hash: str) -> None:
        self.store.cond_update("messages", {"incident_id": incident_id, "key": key}, {"shown_hash": shown_hash})
