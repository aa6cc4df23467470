"""A redraw reads one snapshot of the incident, not the store again for each piece."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from sandbox.fake_slack import FakeSlack

CHANNEL = "C0OPS"


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings)
    yield b
    b.close()


def count_queries(bot: RollbackBot, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = bot.store.query

    def counting(sql: str, params: Any = ()) -> list[dict[str, Any]]:
        seen.append(sql)
        return real(sql, params)

    monkeypatch.setattr(bot.store, "query", counting)
    return seen


def posted_thread(bot: RollbackBot, incident_id: str) -> None:
    """Posting is asynchronous: wait until the thread is complete and the publisher idle."""
    deadline = time.monotonic() + 20
    while len(bot.deps.service.section_messages(incident_id)) < len(bot.deps.runbook.sections):
        assert time.monotonic() < deadline, "thread not posted"
        time.sleep(0.02)
    assert bot.deps.publisher.queue.wait_idle(20)


def test_a_finished_job_redraws_from_one_snapshot(
    bot: RollbackBot, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = bot.deps.service
    observer = bot.deps.runner.observer
    incident = service.open("production", "critical", "", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(incident)
    posted_thread(bot, incident.id)
    job = service.begin_job(incident.id, "immediate.assess", "status", {}, "U0ALICE", "RB-1.r1")
    assert job is not None
    observer.job_started(job)  # type: ignore[attr-defined]
    assert bot.deps.publisher.queue.wait_idle(20)
    finished = service.finish_job(job.request_id, "ok", {"operation": "status", "outcome": "ok", "summary": "x"})
    # The pinned notes redraw on their own timer: stop it (a trailing edit from the job's start would
    # otherwise read the store inside the counted window) and unhook them from the redraw.
    bot.deps.notes.close()
    monkeypatch.setattr(bot.deps.publisher, "on_change", None)
    queries = count_queries(bot, monkeypatch)
    observer.job_finished(finished)  # type: ignore[attr-defined]
    assert bot.deps.publisher.queue.wait_idle(20)
    # One snapshot for the job's message, its section and the parent: the incident, its steps, the
    # thread plan's messages, jobs, and the newest backup listing, plus the follow-up tasks' owners
    # once. (Before the read model this was 11 reads: the incident 5 times, steps and events twice.)
    # The pinned notes redraw later, off this thread.
    tables = sorted(sql.split("[")[1].split("]")[0] for sql in queries)
    assert tables == ["agent_jobs", "events", "follow_ups", "incidents", "messages", "steps"]
    thread = fake_slack.thread(CHANNEL, bot.deps.service.get(incident.id).thread_ts or "")
    section = next(m for m in thread if "Immediate Actions" in m.text)
    assert "1/3 done" in section.text  # the redraw shows the settled step


def test_closing_redraws_every_message_from_one_snapshot(
    bot: RollbackBot, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = bot.deps.service
    incident = service.open("production", "critical", "", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(incident)
    posted_thread(bot, incident.id)
    # The pinned notes follow a parent redraw on their own throttled timer (tests/unit/record/test_notes.py);
    # here only the redraw's own reads are counted.
    bot.deps.notes.close()
    monkeypatch.setattr(bot.deps.publisher, "on_change", None)
    queries = count_queries(bot, monkeypatch)
    bot.deps.publisher.redraw(incident.id, sections=[s.id for s in bot.deps.runbook.sections], parent=True)
    assert bot.deps.publisher.queue.wait_idle(20)
    assert len(queries) == 6, "\n".join(queries)  # the snapshot's five reads and the follow-up tasks once
