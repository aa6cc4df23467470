"""A real SIGKILL in the middle of pending timers: the bot as a process, the fake Slack here.

The escalation fires once after the restart (at once, since its time passed while the bot was
down), the next round fires at its time in the new process, the channel alert comes once, and no
page is ever sent twice (one ``pages`` row per key, inserted before the DM). The deferred
business-hours page and the target reminder, whose times are hours away, are moved into the past
in the store while the bot is down (time passing), and fire once after the restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from sandbox.fake_slack import FakeSlack
from sandbox.sandbox_host import free_port
from sandbox.slack_user import SlackUserDriver
from tests.conftest import SIGNING_SECRET, wait_for

ACK_TIMEOUT_S = 5.0


def _contacts() -> str:
    """Carol works an hour-long shift that starts three hours from now (UTC): she is paged later."""
    start = min((datetime.now(UTC).hour + 3) % 24, 22)
    return f"""
roles:
  development_lead: {{name: Development lead, users: [U0ALICE], backups: [U0BOB]}}
  product_manager:
    name: Product manager
    users: [U0CAROL]
    availability:
      {{days: [mon, tue, wed, thu, fri, sat, sun], start: "{start:02d}:00", end: "{start + 1:02d}:00", tz: UTC}}
severities:
  critical: {{roles: [development_lead, product_manager], ack_timeout_minutes: {ACK_TIMEOUT_S / 60}}}
escalation: {{rounds: 1}}
"""


def _start(fake: FakeSlack, tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBACK_"))}
    env.update(
        SLACK_BOT_TOKEN=fake.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=fake.base_url,
        ROLLBACK_STORE_PATH=str(tmp_path / "bot.db"),
        ROLLBACK_CONTACTS_PATH=str(tmp_path / "contacts.yaml"),
        HOST="127.0.0.1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"bot-{port}.log", "wb"),  # noqa: SIM115 - closed with the process
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["ok"] is True
        except httpx.HTTPError:
            assert proc.poll() is None, (tmp_path / f"bot-{port}.log").read_text()
            return False

    wait_for(healthy, timeout_s=30, what="bot healthz")
    return proc


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def _dms(fake: FakeSlack) -> list[tuple[str, str]]:
    # .get: a request cut off by the SIGKILL reaches the fake without arguments
    return [
        (str(c.get("channel")), str(c.get("text", "")))
        for c in fake.calls("chat.postMessage")
        if str(c.get("channel", "")).startswith("D")
    ]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_sigkill_with_a_pending_escalation_fires_it_once_after_restart(fake_slack: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / "contacts.yaml").write_text(_contacts())
    db = tmp_path / "bot.db"
    port = free_port()
    proc = _start(fake_slack, tmp_path, port)
    try:
        with SlackUserDriver(fake_slack, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET) as driver:
            assert driver.slash("U0ALICE", "C0OPS", "critical media 500s").status_code == 200
        # paging.opened is recorded once every page, deferred page and escalation of the opening is in
        wait_for(lambda: _rows(db, "SELECT 1 FROM events WHERE kind = 'paging.opened'"), what="paging done")
        _kill(proc)  # well before the 5 s ack timeout: the escalation is pending
        (due,) = _rows(db, "SELECT due_epoch FROM timers WHERE key = 'escalate|RB-1|development_lead|0'")[0]
        assert _rows(db, "SELECT state FROM timers WHERE key = 'escalate|RB-1|development_lead|0'") == [("pending",)]
        assert len(_dms(fake_slack)) == 1  # round 0: Alice; Carol is deferred
        later = ("deferred_page", "target_reminder")
        pending = _rows(db, "SELECT kind FROM timers WHERE state = 'pending' ORDER BY kind")
        assert pending == [("deferred_page",), ("escalate",), ("target_reminder",)]
        while time.time() < float(due) + 0.5:  # the escalation's time passes while the bot is down
            time.sleep(0.1)
        past = time.time() - 1
        with sqlite3.connect(db) as conn:  # ... and so, as far as the store can tell, do hours
            conn.execute(
                "UPDATE timers SET due_epoch = ?, due_at = ? WHERE kind IN (?, ?)",
                [past, datetime.fromtimestamp(past, UTC).isoformat(), *later],
            )
        assert len(_dms(fake_slack)) == 1

        proc = _start(fake_slack, tmp_path, port)
        # At once on start: round 1 re-pages Alice and pages the backup, Bob. In the new process the
        # round-1 timer then fires at its own time and, rounds exhausted, raises one channel alert.
        wait_for(
            lambda: any("Nobody has acknowledged" in m.text for m in fake_slack.thread("C0OPS", _parent(fake_slack))),
            timeout_s=30,
            what="channel alert",
        )
        fired = dict(
            (str(k), (float(d), datetime.fromisoformat(str(f)).timestamp()))
            for k, d, f in _rows(db, "SELECT key, due_epoch, fired_at FROM timers WHERE state = 'fired'")
        )
        wait_for(lambda: len(_dms(fake_slack)) == 4, timeout_s=30, what="all four pages")
        fired = dict(
            (str(k), (float(d), datetime.fromisoformat(str(f)).timestamp()))
            for k, d, f in _rows(db, "SELECT key, due_epoch, fired_at FROM timers WHERE state = 'fired'")
        )
        assert set(fired) >= {
            "escalate|RB-1|development_lead|0",
            "escalate|RB-1|development_lead|1",
            "channel_alert|RB-1|development_lead",
            "deferred_page|RB-1|product_manager|U0CAROL|0",
            "target_reminder|RB-1|0",
        }
        assert all(at >= due - 0.01 for due, at in fired.values()), fired  # never early
        wait_for(lambda: len(_alerts(fake_slack)) == 2, timeout_s=30, what="the product manager's alert too")
        _kill(proc)
        proc = _start(fake_slack, tmp_path, port)  # a second restart changes nothing
        time.sleep(1.0)
    finally:
        _kill(proc)
    pages = _rows(db, "SELECT page_key, state FROM pages ORDER BY id")
    assert sorted(pages) == [
        ("RB-1|development_lead|U0ALICE|0", "sent"),
        ("RB-1|development_lead|U0ALICE|1", "sent"),
        ("RB-1|development_lead|U0BOB|1", "sent"),
        ("RB-1|product_manager|U0CAROL|0", "sent"),
    ]
    assert len(_dms(fake_slack)) == 4
    opened = sorted(str(c["users"]) for c in fake_slack.calls("conversations.open") if "users" in c)
    assert opened == ["U0ALICE", "U0ALICE", "U0BOB", "U0CAROL"]
    thread = fake_slack.thread("C0OPS", _parent(fake_slack))
    assert len([m for m in thread if "at 50% of its 15 min target" in m.text]) == 1
    assert len([m for m in thread if "Paged at the start of business hours" in str(m.blocks)]) == 1
    alerts = _alerts(fake_slack)
    assert len(alerts) == 2 and all(a.startswith("<!here>") for a in alerts)
    assert "Development lead" in alerts[0] and "Product manager" in alerts[1]  # one per role, once
    escalations = [str(m.blocks) for m in thread if "Escalation round" in str(m.blocks)]
    assert len(escalations) == 2  # round 1 for each role; Carol, out of hours, is skipped, not paged
    assert "is outside business hours" in next(e for e in escalations if "Product manager" in e)


def _alerts(fake: FakeSlack) -> list[str]:
    return sorted(str(c["text"]) for c in fake.calls("chat.postMessage") if "Nobody has" in str(c.get("text")))


def _parent(fake: FakeSlack) -> str:
    return fake.messages("C0OPS")[0].ts
