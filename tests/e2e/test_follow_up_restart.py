"""A real SIGKILL with a follow-up reminder pending: it fires once in the next process, never twice.

The reminder's due date is days away; while the bot is down the store's clock is moved past it
(time passing), so the restarted bot re-arms it from the ``timers`` table and fires it at once.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.sandbox_host import free_port
from sandbox.slack_user import SlackUserDriver
from tests.conftest import SIGNING_SECRET, wait_for
from tests.e2e.test_paging_restart import _kill, _rows, _start

CONTACTS = """
roles:
  development_lead: {name: Development lead, users: [U0ALICE]}
severities:
  critical: {roles: [development_lead], ack_timeout_minutes: 60}
"""
TASK = "followup.remigration"


def _reminder_dms(fake: FakeSlack) -> list[str]:
    return [str(c.get("text")) for c in fake.calls("chat.postMessage") if "Follow-up due" in str(c.get("text"))]


def test_sigkill_with_a_pending_follow_up_reminder_fires_it_once_after_restart(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    (tmp_path / "contacts.yaml").write_text(CONTACTS)
    db = tmp_path / "bot.db"
    port = free_port()
    proc = _start(fake_slack, tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        with SlackUserDriver(fake_slack, url, SIGNING_SECRET) as driver:
            assert driver.slash("U0ALICE", "C0OPS", "critical media 500s").status_code == 200
            parent = wait_for(lambda: fake_slack.messages("C0OPS"), what="parent")[0]
            section = wait_for(
                lambda: [m for m in fake_slack.thread("C0OPS", parent.ts) if f"f|{TASK}" in str(m.blocks)],
                timeout_s=20,
                what="follow-up section",
            )[0]
            click = driver.click("U0ALICE", "C0OPS", section.ts, ActionId.FOLLOW_UP_ASSIGN, block_id=f"f|{TASK}")
            assert click.status_code == 200
            view = wait_for(lambda: fake_slack.views(), what="dialog")[-1]
            due = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
            resp = driver.submit_view("U0ALICE", view.id, {"owner": "U0CAROL", "due_date": due, "due_time": "09:00"})
            assert resp.status_code == 200
        key = f"follow_up:RB-1:{TASK}:1"
        wait_for(lambda: _rows(db, f"SELECT state FROM timers WHERE key = '{key}'") == [("pending",)], what="armed")
        _kill(proc)
        assert _reminder_dms(fake_slack) == []
        past = time.time() - 1
        with sqlite3.connect(db) as conn:  # two days pass while the bot is down
            conn.execute(
                "UPDATE timers SET due_epoch = ?, due_at = ? WHERE key = ?",
                [past, datetime.fromtimestamp(past, UTC).isoformat(), key],
            )
        proc = _start(fake_slack, tmp_path, port)
        wait_for(lambda: _reminder_dms(fake_slack), timeout_s=30, what="the reminder DM after the restart")
        wait_for(
            lambda: any("is due now" in m.text for m in fake_slack.thread("C0OPS", parent.ts)),
            what="the reminder in the thread",
        )
        assert _rows(db, f"SELECT state FROM timers WHERE key = '{key}'") == [("fired",)]
        _kill(proc)
        proc = _start(fake_slack, tmp_path, port)  # another restart: nothing fires again
        time.sleep(1.0)
    finally:
        _kill(proc)
    assert len(_reminder_dms(fake_slack)) == 1
    assert [
        str(c["channel"]) for c in fake_slack.calls("chat.postMessage") if "Follow-up due" in str(c.get("text"))
    ] == ["D0CAROL"]
    assert len([m for m in fake_slack.thread("C0OPS", parent.ts) if "is due now" in m.text]) == 1
    reminded = _rows(db, f"SELECT owner, reminded_at IS NOT NULL FROM follow_ups WHERE step_id = '{TASK}'")
    assert reminded == [("U0CAROL", 1)]
