"""The incident record of a long thread: read it back from Slack, merge, render, store.

For each size (500, 1,000, 2,000, 4,000 messages) a fake Slack thread is filled with people's
messages (every 50th one the bot's, every 10th edited, every 100th deleted, every 25th 📌) and
the bot's store with the matching thread events plus a normal incident's clicks and agent calls.
The measured operation is what a Resolve does: ``fetch_thread`` (cursor paging, ``limit`` 200)
and ``RecordKeeper.write`` (merge, Markdown, JSON, store a version). The baseline is the floor
of that work: paging through the same thread with the same client and doing nothing else.
Growth rows compare each size with the 500-message record; linear growth is n/500.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bench.report import Budget, Paired, Row, median
from bot.incidents import IncidentService
from bot.record.keeper import RecordKeeper
from bot.runbook import load_runbook
from bot.store import Store
from handlers.thread_history import fetch_thread
from sandbox.fake_slack import FakeSlack, seed_demo_workspace
from sandbox.fake_slack.api_chat import post

CHANNEL = "C0OPS"
SIZES = (500, 1000, 2000, 4000)
USERS = ("U0ALICE", "U0BOB", "U0CAROL")


class RecordBenchError(RuntimeError):
    """The record did not contain what the thread holds (a bug, reported as a failed row)."""


def fill(fake: FakeSlack, service: IncidentService, n: int) -> tuple[str, str]:
    """An incident with an n-message thread; returns (incident id, thread ts)."""
    incident = service.open(f"env-{n}", "critical", "bench", CHANNEL, "U0ALICE")
    parent = post(fake.ws, CHANNEL, text=f"{incident.id} parent")
    service.attach_thread(incident.id, parent.ts)
    for step in ("immediate.alert-team", "immediate.assess", "opt1.check-results"):
        service.transition(incident.id, step, "done", "U0BOB")
    with service.store.transaction():
        for i in range(n):
            if i % 50 == 0:
                post(fake.ws, CHANNEL, text=f"bot message {i}", thread_ts=parent.ts)
                continue
            user = USERS[i % 3]
            ev = fake.write_in_thread(CHANNEL, user, f"message {i}: the logs say X", thread_ts=parent.ts)
            service.record(incident.id, "thread.message", user, ts=ev["ts"], text=ev["text"], files=[])
            if i % 10 == 1:
                fake.edit_as_user(CHANNEL, ev["ts"], f"message {i}: edited")
                service.record(incident.id, "thread.message_changed", user, ts=ev["ts"], text=f"message {i}: edited")
            if i % 25 == 2:
                fake.react_as_user(CHANNEL, ev["ts"], "U0ALICE", "pushpin")
            if i % 100 == 3:
                fake.delete_as_user(CHANNEL, ev["ts"])
                service.record(incident.id, "thread.message_deleted", user, ts=ev["ts"])
    service.resolve(incident.id, "U0ALICE", "bench")
    return incident.id, parent.ts


def expected_messages(n: int) -> int:
    return sum(1 for i in range(n) if i % 50 != 0)


def run(*, iterations: int = 3, sizes: tuple[int, ...] = SIZES, budget: Budget | None = None) -> list[Row]:
    budget = budget or Budget(60)
    rows: list[Row] = []
    fake = seed_demo_workspace(FakeSlack()).start()
    client = WebClient(
        token=fake.bot_token, base_url=fake.base_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=4)]
    )
    own = frozenset({fake.bot_user_id, fake.ws.bot_id})
    try:
        with tempfile.TemporaryDirectory(prefix="rollback-bench-record-") as tmp:
            service = IncidentService(Store(Path(tmp) / "bench.db"), load_runbook())
            keeper = RecordKeeper(service, time_zone="Europe/Berlin")
            medians: dict[int, float] = {}
            write_medians: dict[int, float] = {}
            for n in sizes:
                if budget.expired():
                    rows.append(Row(f"record of {n} messages", 0.0, 0.0, note="skipped: time budget spent"))
                    continue
                incident_id, thread_ts = fill(fake, service, n)
                pairs = Paired()
                writes: list[float] = []

                def measured(
                    incident_id: str = incident_id, thread_ts: str = thread_ts, writes: list[float] = writes
                ) -> int:
                    thread = fetch_thread(client, CHANNEL, thread_ts, limit=200)
                    t0 = time.perf_counter()
                    stored = keeper.write(incident_id, by="U0ALICE", thread=thread, own_ids=own)
                    writes.append(time.perf_counter() - t0)
                    return sum(1 for e in stored.record().timeline if e.source == "thread")

                def baseline(thread_ts: str = thread_ts) -> None:
                    for _page in client.conversations_replies(channel=CHANNEL, ts=thread_ts, limit=200):
                        pass

                for i in range(iterations):
                    got = pairs.run(i, measured, baseline)
                    if got != expected_messages(n):
                        raise RecordBenchError(
                            f"{n}-message record has {got} messages, expected {expected_messages(n)}"
                        )
                    if budget.expired() and i >= 0:
                        break
                medians[n] = median(pairs.measured)
                write_medians[n] = median(writes)
                rows.append(
                    Row(
                        f"record of {n} messages vs reading the thread",
                        medians[n],
                        median(pairs.baseline),
                        note=f"median, n={len(pairs)}; fetch + merge + Markdown + store",
                    )
                )
            base = sizes[0]
            for n in sizes[1:]:
                if n in medians and base in medians:
                    rows.append(
                        Row(
                            f"record growth {n} vs {base} messages",
                            medians[n],
                            medians[base],
                            note=f"linear would be {n / base:.0f}.00x; includes the fake Slack's paging",
                        )
                    )
                    rows.append(
                        Row(
                            f"merge+render+store growth {n} vs {base}",
                            write_medians[n],
                            write_medians[base],
                            note=f"linear would be {n / base:.0f}.00x; the bot's own part, thread already read",
                        )
                    )
    except RecordBenchError as exc:
        rows.append(Row("incident record", 0.0, 0.0, note=f"FAILED: {exc}", ok=False))
    finally:
        fake.stop()
    return rows
