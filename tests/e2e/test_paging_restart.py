"""A real SIGKILL in the middle of a pending escalation: the bot as a process, the fake Slack here.

The escalation fires once after the restart (at once, since its time passed while the bot was
down), the next round fires at its time in the new process, the channel alert comes once, and no
page is ever sent twice (one ``pages`` row per key, inserted before the DM)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from sandbox.fake_slack import FakeSlack
from sandbox.sandbox_host import free_port
from sandbox.slack_user import SlackUserDriver
from tests.conftest import SIGNING_SECRET, wait_for

ACK_TIMEOUT_S = 3.0
CONTACTS = f"""
roles:
  development_lead: {{name: Development lead, users: [U0ALICE], backups: [U0BOB]}}
severities:
  critical: {{roles: [development_lead], ack_timeout_minutes: {ACK_TIMEOUT_S / 60}}}
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
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
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
    return [
        (str(c["channel"]), str(c.get("text", "")))
        for c in fake.calls("chat.postMessage")
        if str(c["channel"]).startswith("D")
    ]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_sigkill_with_a_pending_escalation_fires_it_once_after_restart(fake_slack: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / "contacts.yaml").write_text(CONTACTS)
    db = tmp_path / "bot.db"
    port = free_port()
    proc = _start(fake_slack, tmp_path, port)
    try:
        with SlackUserDriver(fake_slack, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET) as driver:
            assert driver.slash("U0ALICE", "C0OPS", "critical media 500s").status_code == 200
        wait_for(lambda: _rows(db, "SELECT 1 FROM timers WHERE kind = 'escalate'"), what="escalation armed")
        _kill(proc)  # well before the 3 s ack timeout: the escalation is pending
        (due,) = _rows(db, "SELECT due_epoch FROM timers WHERE key = 'escalate|RB-1|development_lead|0'")[0]
        assert _rows(db, "SELECT state FROM timers WHERE key = 'escalate|RB-1|development_lead|0'") == [("pending",)]
        assert len(_dms(fake_slack)) == 1  # round 0: Alice
        while time.time() < float(due) + 0.5:  # the escalation's time passes while the bot is down
            time.sleep(0.1)
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
        assert set(fired) == {
            "escalate|RB-1|development_lead|0",
            "escalate|RB-1|development_lead|1",
            "channel_alert|RB-1",
        }
        assert all(at >= due - 0.01 for due, at in fired.values()), fired  # never early
        _kill(proc)
        proc = _start(fake_slack, tmp_path, port)  # a second restart changes nothing
        time.sleep(1.0)
    finally:
        _kill(proc)
    pages = _rows(db, "SELECT page_key, state FROM pages ORDER BY id")
    assert pages == [
        ("RB-1|development_lead|U0ALICE|0", "sent"),
        ("RB-1|development_lead|U0ALICE|1", "sent"),
        ("RB-1|development_lead|U0BOB|1", "sent"),
    ]
    assert len(_dms(fake_slack)) == 3
    opened = sorted(str(c["users"]) for c in fake_slack.calls("conversations.open"))
    assert opened == ["U0ALICE", "U0ALICE", "U0BOB"]
    alerts = [c for c in fake_slack.calls("chat.postMessage") if "Nobody has acknowledged" in str(c.get("text"))]
    assert len(alerts) == 1 and str(alerts[0]["text"]).startswith("<!here>")
    escalations = [m for m in fake_slack.thread("C0OPS", _parent(fake_slack)) if "Escalation round 1" in str(m.blocks)]
    assert len(escalations) == 1


def _parent(fake: FakeSlack) -> str:
    return fake.messages("C0OPS")[0].ts
